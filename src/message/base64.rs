//! Base64 as mail clients decode it, not as the RFC spells it: senders'
//! software inserts stray characters, drops padding, or glues two encoded
//! blocks together, and Thunderbird or Outlook still open the file. So
//! every byte outside the alphabet is skipped, `=` only ends the current
//! 4-character group, and bits left over at the end are dropped.
//! Linear, and the output is never longer than 3/4 of the input.

/// The value of a base64 character (standard or URL-safe alphabet).
fn sextet(c: u8) -> Option<u32> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' | b'-' => 62,
        b'/' | b'_' => 63,
        _ => return None,
    } as u32)
}

/// Decodes `text`, tolerating what mail clients tolerate.
pub fn decode_lenient(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut bits = 0u32;
    let mut count = 0u32;
    for &c in text {
        if c == b'=' {
            // Padding closes the group: what it completed was written.
            bits = 0;
            count = 0;
            continue;
        }
        let Some(v) = sextet(c) else { continue };
        bits = (bits << 6) | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_clean_base64_as_the_rfc_says() {
        assert_eq!(decode_lenient(b"aGVsbG8gd29ybGQ="), b"hello world");
        assert_eq!(decode_lenient(b"aGVs\r\nbG8=\r\n"), b"hello");
        assert_eq!(decode_lenient(b""), b"");
    }

    #[test]
    fn tolerates_stray_characters_missing_padding_and_glued_blocks() {
        assert_eq!(decode_lenient(b"aGV*sbG8gd29y!bGQ"), b"hello world");
        assert_eq!(decode_lenient(b"aGVsbG8"), b"hello");
        assert_eq!(decode_lenient(b"aGk=aGk="), b"hihi");
        assert_eq!(decode_lenient(b"\x00\xff====="), b"");
    }
}
