//! Text that came from the network, shown safely.

use std::fmt;

/// Text from the network, made safe for one log line: every character that is not shown
/// as itself is escaped (see [`hides`]), and the text is cut to 300 characters.
pub(crate) struct Untrusted<'a>(pub(crate) &'a str);

impl fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 300;
        for (i, c) in self.0.chars().enumerate() {
            if i == MAX_CHARS {
                return f.write_str("…");
            }
            if hides(c) {
                // `\n`, `\u{202e}`: the escape is ASCII, so it cannot hide anything itself.
                write!(f, "{}", c.escape_default())?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

/// Whether `c`, written to a terminal or a log viewer as it is, could make the text read
/// other than it is: a control character (a line break, a terminal escape); a line or
/// paragraph separator (U+2028, U+2029: a new line in many viewers, a fake log line); or a
/// format character (Unicode's general category Cf), which is not drawn but changes how
/// what follows is: bidirectional marks, embeddings, overrides and isolates (U+061C,
/// U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069) that show text in another order
/// than it is read, zero-width spaces and joiners (U+200B to U+200D, U+2060, U+FEFF) and
/// the soft hyphen (U+00AD) that hide where a word is cut, and tag characters (U+E0000
/// to U+E007F) that carry invisible ASCII.
///
/// The whole Cf category, as of Unicode 15.1, not a hand-picked part: a server message has
/// no use for any of it, and an escape of the rare visible one (an Arabic number sign) is
/// still readable. Variation selectors (U+FE00 to U+FE0F, U+E0100 to U+E01EF) are kept:
/// they change a glyph (an emoji's style), never the order or the words.
pub(crate) fn hides(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Line and paragraph separators (Zl, Zp).
            '\u{2028}' | '\u{2029}'
            // Format characters (Cf).
            | '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        Untrusted(text).to_string()
    }

    #[test]
    fn plain_text_is_shown_as_it_is() {
        for text in [
            "Unauthorized: the signature has expired",
            "请求参数错误 (KMS.0101)",
            "café, naïve, ¿qué?",
            "tab-free text with spaces\u{a0}and a no-break space",
            // An emoji with its variation selector, and a joiner-free flag.
            "ok ✔\u{fe0f} 🇨🇳",
        ] {
            assert_eq!(shown(text), text);
        }
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(shown("a\nb\rc\td\u{1b}[31me"), "a\\nb\\rc\\td\\u{1b}[31me");
        assert_eq!(shown("next\u{85}line"), "next\\u{85}line");
    }

    #[test]
    fn bidirectional_overrides_are_escaped() {
        // "cod.exe" that reads as "exe.doc" on a terminal that honours the override.
        assert_eq!(shown("file\u{202e}cod.exe"), "file\\u{202e}cod.exe");
        for (name, c) in [
            ("left-to-right embedding", '\u{202a}'),
            ("right-to-left embedding", '\u{202b}'),
            ("pop directional formatting", '\u{202c}'),
            ("left-to-right override", '\u{202d}'),
            ("right-to-left override", '\u{202e}'),
            ("left-to-right isolate", '\u{2066}'),
            ("right-to-left isolate", '\u{2067}'),
            ("first strong isolate", '\u{2068}'),
            ("pop directional isolate", '\u{2069}'),
            ("left-to-right mark", '\u{200e}'),
            ("right-to-left mark", '\u{200f}'),
            ("arabic letter mark", '\u{61c}'),
        ] {
            let text = format!("a{c}b");
            assert_eq!(
                shown(&text),
                format!("a\\u{{{:x}}}b", u32::from(c)),
                "{name}"
            );
        }
    }

    #[test]
    fn line_and_paragraph_separators_are_escaped() {
        let text = "denied\u{2028}INFO all good\u{2029}end";
        assert_eq!(shown(text), "denied\\u{2028}INFO all good\\u{2029}end");
        assert_eq!(shown(text).lines().count(), 1);
    }

    #[test]
    fn invisible_format_characters_are_escaped() {
        for (name, c) in [
            ("zero-width space", '\u{200b}'),
            ("zero-width non-joiner", '\u{200c}'),
            ("zero-width joiner", '\u{200d}'),
            ("word joiner", '\u{2060}'),
            ("invisible separator", '\u{2063}'),
            ("byte order mark", '\u{feff}'),
            ("soft hyphen", '\u{ad}'),
            ("mongolian vowel separator", '\u{180e}'),
            ("interlinear annotation anchor", '\u{fff9}'),
            ("language tag", '\u{e0001}'),
            ("tag latin small letter a", '\u{e0061}'),
            ("cancel tag", '\u{e007f}'),
        ] {
            let text = format!("a{c}b");
            assert_eq!(
                shown(&text),
                format!("a\\u{{{:x}}}b", u32::from(c)),
                "{name}"
            );
        }
    }

    #[test]
    fn cut_to_300_characters() {
        let long = "é".repeat(400);
        let out = shown(&long);
        assert_eq!(out.chars().count(), 301);
        assert!(out.ends_with('…'));
        // Escapes do not count against the cut: 300 input characters are shown.
        let out = shown(&"\u{202e}".repeat(301));
        assert_eq!(out, format!("{}…", "\\u{202e}".repeat(300)));
    }
}
