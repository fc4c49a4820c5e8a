//! Why a token is refused, in the vendor's terms: which verification step failed, and the fix.

use mcp_auth_jwt::Profile;
use serde_json::{Map, Value};

use super::clean;

/// The verification steps, in the order the verifier takes them.
pub(crate) const STEPS: [&str; 13] = [
    "format",
    "issuer",
    "algorithm",
    "typ",
    "signing key",
    "signature",
    "lifetime",
    "tenant",
    "audience",
    "required claims",
    "token kind",
    "client",
    "binding",
];

/// The step a refusal happened at.
pub(crate) fn step_of(reason: &str, description: &str) -> &'static str {
    match reason {
        "untrusted_issuer" | "tenant_not_allowed" => "issuer",
        "alg_not_allowed" => "algorithm",
        "wrong_typ" => "typ",
        "unknown_key" | "keys_unavailable" => "signing key",
        "bad_signature" | "key_issuer_mismatch" => "signature",
        "expired" | "not_yet_valid" | "issued_in_future" => "lifetime",
        "wrong_tenant" => "tenant",
        "wrong_audience" => "audience",
        "wrong_token_kind" => "token kind",
        "client_not_allowed" => "client",
        "dpop_bound_as_bearer" | "certificate_bound" | "dpop_required" => "binding",
        "missing_claim" if description.contains("`iss`") => "issuer",
        "missing_claim" if description.contains("`exp`") => "lifetime",
        "missing_claim" if description.contains("`tid`") => "tenant",
        "missing_claim" if description.contains("`aud`") => "audience",
        "missing_claim" if description.contains("names no client") => "client",
        "missing_claim" => "required claims",
        "malformed" if description.contains("claim `") => "required claims",
        _ => "format",
    }
}

/// The identity provider a token's shape suggests (never its host name alone).
pub(crate) fn guess_vendor(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Option<Profile> {
    let text =
        |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(str::to_owned);
    let iss = text(claims, "iss").unwrap_or_default();
    if claims.contains_key("token_use") {
        return Some(Profile::Cognito);
    }
    if claims.contains_key("tid") && claims.contains_key("ver") {
        return Some(if text(claims, "ver").as_deref() == Some("1.0") {
            Profile::EntraV1
        } else {
            Profile::Entra
        });
    }
    if claims.contains_key("cid") {
        return Some(Profile::Okta);
    }
    if claims.contains_key("realm_access")
        || text(claims, "typ").as_deref() == Some("Bearer")
        || iss.contains("/realms/")
    {
        return Some(Profile::Keycloak);
    }
    if claims.contains_key("azp") && iss.ends_with('/') {
        return Some(Profile::Auth0);
    }
    let _ = header;
    None
}

/// What the operator can do about a refusal.
pub(crate) struct Context<'a> {
    pub(crate) reason: &'a str,
    pub(crate) description: &'a str,
    pub(crate) header: &'a Map<String, Value>,
    pub(crate) claims: &'a Map<String, Value>,
    /// The profile configured for the issuer the token names, if it is configured.
    pub(crate) configured: Option<Profile>,
    pub(crate) configured_issuers: &'a [String],
    pub(crate) resource: &'a str,
}

/// The fix for a refusal, in the vendor's terms.
pub(crate) fn fix(ctx: &Context<'_>) -> Option<String> {
    let claim = |k: &str| ctx.claims.get(k).and_then(Value::as_str).map(clean);
    let vendor = guess_vendor(ctx.header, ctx.claims);
    let idp_flag = |p: Profile| match p {
        Profile::Cognito => "--idp cognito --client-id <app client id>".to_owned(),
        p => format!("--idp {p}"),
    };
    match ctx.reason {
        "wrong_typ" => Some(match vendor {
            Some(Profile::Okta) => "Okta access tokens have no `typ` header: use --idp okta".into(),
            Some(Profile::Auth0) => "this is Auth0's default token profile (`typ: JWT`, client in `azp`): use --idp auth0, or set the API's token profile to RFC 9068 in the Auth0 dashboard".into(),
            Some(Profile::Keycloak) => "Keycloak types access tokens `JWT`: use --idp keycloak (or turn on `at+jwt` for the client, Keycloak 26.2+)".into(),
            Some(p @ (Profile::Entra | Profile::EntraV1)) => format!("Entra ID types access tokens `JWT`: use {}", idp_flag(p)),
            Some(p) => format!("this looks like a {p} token: use {}", idp_flag(p)),
            None => "this issuer does not type its access tokens `at+jwt` (RFC 9068): choose its profile with --idp, or relax `typ` for this issuer only (`typ = \"lenient\"`)".into(),
        }),
        "untrusted_issuer" => {
            let iss = claim("iss").unwrap_or_default();
            let near = ctx.configured_issuers.iter().find(|c| {
                c.trim_end_matches('/') == iss.trim_end_matches('/')
            });
            if let Some(near) = near {
                return Some(format!(
                    "issuers are compared exactly: the token says `{iss}`, the configuration `{near}` (mind the trailing slash); configure the token's value"
                ));
            }
            let v1 = claim("ver").as_deref() == Some("1.0") || iss.contains("sts.windows.net");
            if v1 && ctx.configured.is_none()
                && ctx.configured_issuers.iter().any(|c| c.ends_with("/v2.0"))
            {
                return Some("an Entra v1 token against a v2 configuration: set `accessTokenAcceptedVersion` to 2 in the API's app manifest, or configure the v1 issuer with --idp entra-v1 --issuer https://sts.windows.net/<tenant>/".into());
            }
            Some(format!(
                "the token was issued by `{iss}`: trust that issuer (--issuer {iss}), or get the token from the configured one"
            ))
        }
        "tenant_not_allowed" => Some(format!(
            "admit the tenant with --tenant {}",
            claim("tid").unwrap_or_else(|| "<tenant id>".into())
        )),
        "wrong_token_kind" if ctx.description.contains("`ver` is `1.0`") => Some(
            "an Entra v1 token against a v2 configuration: set `accessTokenAcceptedVersion` to 2 in the API's app manifest, or use --idp entra-v1 with the v1 issuer".into(),
        ),
        "wrong_token_kind" if ctx.description.contains("`ver` is `2.0`") => Some(
            "an Entra v2 token against a v1 configuration: use --idp entra with the issuer https://login.microsoftonline.com/<tenant>/v2.0".into(),
        ),
        "wrong_token_kind" => Some(
            "this is not an access token (an ID token?): the client must send the access token the issuer returned for this API".into(),
        ),
        "wrong_audience" => {
            let auds: Vec<String> = match ctx.claims.get("aud") {
                Some(Value::String(a)) => vec![clean(a)],
                Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(clean).collect(),
                _ => Vec::new(),
            };
            let first = auds.first().cloned().unwrap_or_default();
            Some(match vendor {
                Some(Profile::Okta) if first.starts_with("api://") => format!(
                    "aud is `{first}`, your resource is `{}`: add --audience {first}, or create an authorization server whose audience is your MCP URL",
                    ctx.resource
                ),
                Some(Profile::Keycloak) => format!(
                    "Keycloak puts this server in `aud` only with an audience mapper: add an \"Audience\" mapper with Included Custom Audience `{}` to the client's dedicated scope (the token names {})",
                    ctx.resource,
                    auds.join(", ")
                ),
                Some(Profile::Entra | Profile::EntraV1) => format!(
                    "Entra names the API by its application id or App ID URI: add --audience {first} (only if that registration is this server's)"
                ),
                _ => format!(
                    "the token was issued for {}: request it with resource={} (RFC 8707), or, if that value names this server, add --audience {first}",
                    auds.join(", "),
                    ctx.resource
                ),
            })
        }
        "missing_claim" if ctx.description.contains("`aud`") && vendor == Some(Profile::Cognito) => Some(
            "Cognito access tokens carry no `aud`: use --idp cognito --client-id <app client id>".into(),
        ),
        "missing_claim" if ctx.description.contains("`client_id`") => Some(match vendor {
            Some(p) => format!(
                "RFC 9068 tokens name the client in `client_id`; {p} tokens use `{}`: use {}",
                p.client_id_claims()[0],
                idp_flag(p)
            ),
            None => "the issuer does not put `client_id` in its tokens: choose its profile with --idp, or list the required claims for this issuer (`required_claims`)".into(),
        }),
        "missing_claim" if ctx.description.contains("`jti`") || ctx.description.contains("`iat`") => Some(
            "RFC 9068 requires `iat` and `jti`; this issuer omits them: choose its profile with --idp, or `required_claims = \"minimal\"` for this issuer".into(),
        ),
        "client_not_allowed" => Some(format!(
            "admit the client with --client-id {}",
            ctx.configured
                .and_then(|p| p.client_id_claims().iter().find_map(|c| claim(c)))
                .unwrap_or_else(|| "<client id>".into())
        )),
        "dpop_bound_as_bearer" => Some("the token is valid and bound to a key (DPoP): clients present it with `Authorization: DPoP` and a proof made for each request, which the doctor cannot make; presented as a bearer token it is refused by design".into()),
        "certificate_bound" => Some("the token is bound to a client certificate (mutual TLS), which mcp-auth does not check: have the issuer bind it with DPoP, or issue bearer tokens for this API".into()),
        "dpop_required" => Some("this issuer's tokens must be DPoP-bound here: have the client request its token with a DPoP proof".into()),
        "expired" => Some("the token has expired: get a fresh one (if it should still be valid, check this machine's clock)".into()),
        "not_yet_valid" | "issued_in_future" => Some("the token's times lie in the future: check the clocks of this machine and the issuer".into()),
        "unknown_key" => Some("the issuer does not publish the key the token names: the token comes from another issuer or environment with the same name, or from a key not yet published".into()),
        "bad_signature" => Some("the signature does not verify with the issuer's published keys: the token was altered, or signed by someone else".into()),
        "key_issuer_mismatch" => Some("the signing key is published for another issuer (tenant): the token's `iss` was not issued with that key".into()),
        "alg_not_allowed" => Some("the issuer signs with an algorithm this configuration does not allow: widen `algorithms` for this issuer if that is intended".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn vendors_are_told_apart_by_shape() {
        let h = map(json!({"alg": "RS256"}));
        let cases = [
            (json!({"token_use": "access"}), Some(Profile::Cognito)),
            (json!({"tid": "t", "ver": "1.0"}), Some(Profile::EntraV1)),
            (json!({"tid": "t", "ver": "2.0"}), Some(Profile::Entra)),
            (json!({"cid": "c"}), Some(Profile::Okta)),
            (
                json!({"typ": "Bearer", "azp": "c"}),
                Some(Profile::Keycloak),
            ),
            (
                json!({"azp": "c", "iss": "https://t.auth0.com/"}),
                Some(Profile::Auth0),
            ),
            (json!({"client_id": "c", "iss": "https://as.example"}), None),
        ];
        for (claims, want) in cases {
            assert_eq!(guess_vendor(&h, &map(claims.clone())), want, "{claims}");
        }
    }

    #[test]
    fn every_refusal_maps_to_a_step() {
        for (reason, description, step) in [
            ("missing_claim", "token has no `aud` claim", "audience"),
            (
                "missing_claim",
                "token has no `sub` claim",
                "required claims",
            ),
            ("wrong_typ", "", "typ"),
            ("key_issuer_mismatch", "", "signature"),
            ("malformed", "token is not a JWT", "format"),
        ] {
            assert_eq!(step_of(reason, description), step);
            assert!(STEPS.contains(&step));
        }
    }
}
