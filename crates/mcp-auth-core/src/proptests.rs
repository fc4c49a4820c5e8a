//! Properties of scope sets and resource identifiers, over generated inputs.

use proptest::prelude::*;

use crate::{ResourceId, Scopes};

fn scope_token() -> impl Strategy<Value = String> {
    "[a-z]{1,4}(:[a-z]{1,4})?"
}

fn scopes() -> impl Strategy<Value = Scopes> {
    proptest::collection::vec(scope_token(), 0..6)
        .prop_map(|v| v.iter().map(String::as_str).collect())
}

proptest! {
    #[test]
    fn parse_display_round_trips(s in scopes()) {
        prop_assert_eq!(Scopes::parse(&s.to_string()), s);
    }

    #[test]
    fn set_laws(a in scopes(), b in scopes()) {
        let union = a.union(&b);
        prop_assert!(union.is_superset(&a) && union.is_superset(&b));
        let missing = a.missing(&b);
        prop_assert!(missing.iter().all(|m| !a.contains(m) && b.contains(m)));
        prop_assert!(a.union(&missing).is_superset(&b));
        prop_assert_eq!(a.is_superset(&b), missing.is_empty());
    }

    #[test]
    fn arbitrary_scope_text_never_panics(text in ".{0,200}") {
        let s = Scopes::parse(&text);
        prop_assert!(s.iter().all(Scopes::is_valid_token));
    }

    #[test]
    fn canonical_forms_are_stable_and_match_their_variants(
        host in "[a-z]{1,10}\\.(com|org|example)",
        port in proptest::option::of(1u16..65535),
        path in proptest::collection::vec("[a-z0-9]{1,6}", 0..4),
        upper in any::<bool>(),
        slash in any::<bool>(),
    ) {
        let authority = match port { Some(p) => format!("{host}:{p}"), None => host.clone() };
        let path = path.iter().map(|p| format!("/{p}")).collect::<String>();
        let original = format!("https://{authority}{path}");
        let id = ResourceId::parse(&original).unwrap();
        let canonical = ResourceId::parse(id.canonical()).unwrap();
        prop_assert_eq!(canonical.canonical(), id.canonical());
        let variant = format!(
            "{}://{}{}{}",
            if upper { "HTTPS" } else { "https" },
            if upper { authority.to_uppercase() } else { authority.clone() },
            path,
            if slash { "/" } else { "" },
        );
        prop_assert!(id.matches(&variant), "{} should match {}", original, variant);
        let other = format!("https://{}{}/other", authority, path);
        let plain = format!("http://{}{}", authority, path);
        prop_assert!(!id.matches(&other));
        prop_assert!(!id.matches(&plain));
    }

    #[test]
    fn arbitrary_audiences_never_panic(original in "https://[a-z]{1,8}\\.com(/[a-z]{1,4}){0,2}", aud in ".{0,100}") {
        let id = ResourceId::parse(&original).unwrap();
        let _ = id.matches(&aud);
    }
}
