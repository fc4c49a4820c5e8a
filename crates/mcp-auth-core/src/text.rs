//! The one sanitiser for untrusted text that mcp-auth echoes (in error messages, log lines,
//! challenges' descriptions, a terminal).

use std::fmt::Write as _;

/// Makes `text` from an untrusted source (a token's claims, an issuer's document, a client's
/// metadata document, a configuration value) safe to echo: control characters and the invisible
/// or direction-changing ones (which could disguise a name or a URL, or forge a log line) are
/// shown escaped as `\u{…}`, and at most `max_chars` characters of the text are kept, an ellipsis
/// marking the cut.
///
/// ```
/// use mcp_auth_core::untrusted_text;
///
/// assert_eq!(untrusted_text("Example App", 64), "Example App");
/// assert_eq!(untrusted_text("evil\ninjected log line", 64), "evil\\u{000a}injected log line");
/// assert_eq!(untrusted_text("Bank\u{202e}gpj.exe", 64), "Bank\\u{202e}gpj.exe");
/// assert_eq!(untrusted_text("abcdef", 3), "abc…");
/// ```
pub fn untrusted_text(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars.saturating_mul(4)));
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push('…');
            break;
        }
        let invisible = matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}');
        if c.is_control() || invisible {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_could_fool_a_reader_and_keeps_the_rest() {
        assert_eq!(untrusted_text("café", 10), "café");
        assert_eq!(untrusted_text("a\u{1b}[2Jb", 10), "a\\u{001b}[2Jb");
        assert_eq!(
            untrusted_text("zero\u{200b}width", 20),
            "zero\\u{200b}width"
        );
        assert_eq!(untrusted_text("\u{feff}", 5), "\\u{feff}");
    }

    #[test]
    fn keeps_at_most_max_chars_of_the_text() {
        assert_eq!(untrusted_text(&"x".repeat(100), 64).chars().count(), 65);
        assert_eq!(untrusted_text("exactly", 7), "exactly");
        assert_eq!(untrusted_text("", 0), "");
        assert_eq!(untrusted_text("a", 0), "…");
    }
}
