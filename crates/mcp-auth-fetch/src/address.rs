//! Which IP addresses an outbound fetch may reach.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Where an address lies, as far as outbound fetches are concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressClass {
    /// A public unicast address.
    Public,
    /// The local machine (127.0.0.0/8, `::1`).
    Loopback,
    /// A private network: RFC 1918, shared address space (100.64.0.0/10), benchmarking
    /// (198.18.0.0/15), unique-local IPv6 (`fc00::/7`), site-local IPv6.
    Private,
    /// Never reachable, whatever the policy allows: link-local and cloud metadata
    /// (169.254.0.0/16 for most providers, Alibaba Cloud's 100.100.100.200, AWS's IPv6
    /// `fd00:ec2::/32`; `fe80::/10`), unspecified, multicast, broadcast, documentation and
    /// reserved ranges.
    Forbidden(&'static str),
}

/// Classifies an address. IPv4-mapped, IPv4-compatible and NAT64 IPv6 addresses are classified by
/// the IPv4 address they embed, so `::ffff:127.0.0.1` is loopback.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Alibaba Cloud's instance metadata service.
const ALIBABA_METADATA: Ipv4Addr = Ipv4Addr::new(100, 100, 100, 200);

/// AWS's IPv6 endpoints for instance metadata (`fd00:ec2::254`), DNS and time.
const AWS_METADATA_V6_PREFIX: [u16; 2] = [0xfd00, 0x0ec2];

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    let [a, b, c, _] = ip.octets();
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if a == 0 {
        AddressClass::Forbidden("unspecified (0.0.0.0/8)")
    } else if ip.is_link_local() {
        AddressClass::Forbidden("link-local or cloud metadata (169.254.0.0/16)")
    } else if ip == ALIBABA_METADATA {
        // Inside the shared address space, which `allow_private_networks` opens.
        AddressClass::Forbidden("cloud metadata (Alibaba Cloud, 100.100.100.200)")
    } else if ip.is_private()
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b & 0xfe) == 18)
    {
        AddressClass::Private
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        AddressClass::Forbidden("multicast, broadcast or reserved")
    } else if ip.is_documentation() || (a == 192 && b == 0 && c == 0) {
        AddressClass::Forbidden("documentation or protocol-assignment range")
    } else {
        AddressClass::Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 well-known prefix 64:ff9b::/96 and deprecated IPv4-compatible ::a.b.c.d.
    let embeds_v4 = (segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0])
        || (segments[..6] == [0; 6] && segments[6] != 0);
    if embeds_v4 {
        let [.., hi, lo] = segments;
        return classify_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    if ip.is_loopback() {
        AddressClass::Loopback
    } else if ip.is_unspecified() {
        AddressClass::Forbidden("unspecified (::)")
    } else if ip.is_unicast_link_local() {
        AddressClass::Forbidden("link-local (fe80::/10)")
    } else if ip.is_multicast() {
        AddressClass::Forbidden("multicast")
    } else if segments[..2] == AWS_METADATA_V6_PREFIX {
        // Inside the unique-local range, which `allow_private_networks` opens.
        AddressClass::Forbidden("cloud metadata (AWS, fd00:ec2::/32)")
    } else if ip.is_unique_local() || (segments[0] & 0xffc0) == 0xfec0 {
        AddressClass::Private
    } else if segments[0] == 0x2001 && segments[1] == 0x0db8 {
        AddressClass::Forbidden("documentation range (2001:db8::/32)")
    } else if segments[0] == 0x2002 {
        // 6to4 embeds an IPv4 address in bits 16..48.
        let v4 = Ipv4Addr::from((u32::from(segments[1]) << 16) | u32::from(segments[2]));
        classify_v4(v4)
    } else {
        AddressClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn ranges() {
        use AddressClass::*;
        type Check = fn(AddressClass) -> bool;
        let cases: &[(&str, Check)] = &[
            ("8.8.8.8", |c| c == Public),
            ("1.1.1.1", |c| c == Public),
            ("2606:4700::1111", |c| c == Public),
            ("127.0.0.1", |c| c == Loopback),
            ("127.255.0.9", |c| c == Loopback),
            ("::1", |c| c == Loopback),
            ("::ffff:127.0.0.1", |c| c == Loopback),
            ("10.0.0.1", |c| c == Private),
            ("10.255.255.255", |c| c == Private),
            ("172.16.0.1", |c| c == Private),
            ("172.31.255.254", |c| c == Private),
            ("172.32.0.1", |c| c == Public),
            ("192.168.1.1", |c| c == Private),
            ("100.64.0.1", |c| c == Private),
            ("198.18.0.1", |c| c == Private),
            ("fc00::1", |c| c == Private),
            ("fd12:3456::1", |c| c == Private),
            ("::ffff:10.0.0.1", |c| c == Private),
            ("::ffff:192.168.0.1", |c| c == Private),
            ("64:ff9b::a00:1", |c| c == Private),
            ("0.0.0.0", |c| matches!(c, Forbidden(_))),
            ("0.1.2.3", |c| matches!(c, Forbidden(_))),
            ("::", |c| matches!(c, Forbidden(_))),
            ("169.254.169.254", |c| matches!(c, Forbidden(_))),
            ("::ffff:169.254.169.254", |c| matches!(c, Forbidden(_))),
            ("fe80::1", |c| matches!(c, Forbidden(_))),
            ("224.0.0.1", |c| matches!(c, Forbidden(_))),
            ("255.255.255.255", |c| matches!(c, Forbidden(_))),
            ("ff02::1", |c| matches!(c, Forbidden(_))),
            ("2002:7f00:1::", |c| c == Loopback),
            ("100.100.100.199", |c| c == Private),
            ("fd00:ec3::254", |c| c == Private),
        ];
        for (addr, ok) in cases {
            assert!(ok(class(addr)), "{addr}: {:?}", class(addr));
        }
    }

    #[test]
    fn every_cloud_metadata_address_is_forbidden_in_every_spelling() {
        let spellings = [
            // AWS, GCP, Azure, Oracle, DigitalOcean, OpenStack; AWS ECS task metadata.
            "169.254.169.254",
            "169.254.170.2",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:a9fe:a9fe::1",
            // Alibaba Cloud.
            "100.100.100.200",
            "::ffff:100.100.100.200",
            "::ffff:6464:64c8",
            "64:ff9b::6464:64c8",
            "2002:6464:64c8::1",
            // AWS over IPv6 (instance metadata, DNS, time).
            "fd00:ec2::254",
            "fd00:0ec2:0000:0000:0000:0000:0000:0254",
            "FD00:EC2::254",
            "fd00:ec2::253",
            "fd00:ec2::123",
        ];
        let open = crate::FetchPolicy::default()
            .allow_loopback(true)
            .allow_private_networks(true);
        for spelling in spellings {
            let ip: IpAddr = spelling.parse().unwrap();
            assert!(
                matches!(classify(ip), AddressClass::Forbidden(_)),
                "{spelling}: {:?}",
                classify(ip)
            );
            assert!(
                open.check_address(ip).is_err(),
                "{spelling} opened by allow_private_networks"
            );
        }
    }
}
