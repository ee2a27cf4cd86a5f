//! Making outside text safe to put in a reply: nothing from a form or from an
//! incoming message reaches a header unless it passed one of these.

/// Characters that only steer how text is shown (bidirectional overrides,
/// zero-width marks): a file name could use them to look like another.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Text for a body: control and invisible characters removed, line breaks
/// and tabs kept as line breaks and spaces.
pub fn text(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() || is_invisible(c) => None,
            c => Some(c),
        })
        .collect()
}

/// One line of at most `max` characters: control and invisible characters
/// (CR and LF among them) become spaces, runs of spaces one space, and the
/// ends are trimmed. A cut line ends with `…`.
pub fn line(s: &str, max: usize) -> String {
    let spaced: String = s
        .chars()
        .map(|c| {
            if c.is_control() || is_invisible(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let words: Vec<&str> = spaced.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// A Message-ID as RFC 5322 writes it (`<left@right>`), printable ASCII with
/// no spaces or angle brackets inside, at most 250 characters; `None` for
/// anything else, which is then left out rather than repaired.
pub fn msg_id(s: &str) -> Option<String> {
    let s = s.trim();
    let inner = s.strip_prefix('<')?.strip_suffix('>')?;
    let (left, right) = inner.split_once('@')?;
    let ok = s.len() <= 250
        && !left.is_empty()
        && !right.is_empty()
        && inner
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\'));
    ok.then(|| s.to_string())
}

/// A request number as guichet makes them (`DA-2024-000123`).
pub fn request_id(s: &str) -> Option<&str> {
    let b = s.as_bytes();
    let ok = b.len() == 14
        && s.starts_with("DA-")
        && b[7] == b'-'
        && b[3..7].iter().chain(&b[8..]).all(u8::is_ascii_digit);
    ok.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_lose_breaks_and_controls() {
        assert_eq!(line("a\r\nBcc: x@y", 80), "a Bcc: x@y");
        assert_eq!(line(" form\u{202E}fdp.exe ", 80), "form fdp.exe");
        assert_eq!(line("abcdef", 4), "abc…");
        assert_eq!(text("a\r\nb\tc\u{7}"), "a\nb c");
    }

    #[test]
    fn message_ids() {
        assert_eq!(msg_id(" <a.b@c> ").as_deref(), Some("<a.b@c>"));
        for bad in [
            "a@b",
            "<a@b>\r\nBcc: x@y",
            "<a b@c>",
            "<@c>",
            "<a@>",
            "<a<b@c>",
            "<ab>",
        ] {
            assert_eq!(msg_id(bad), None, "{bad}");
        }
        assert_eq!(msg_id(&format!("<{}@c>", "a".repeat(300))), None);
    }

    #[test]
    fn request_ids() {
        assert_eq!(request_id("DA-2024-000123"), Some("DA-2024-000123"));
        for bad in [
            "DA-2024-00012",
            "DA-2024-000123\r\n",
            "XX-2024-000123",
            "DA-20x4-000123",
        ] {
            assert_eq!(request_id(bad), None, "{bad}");
        }
    }
}
