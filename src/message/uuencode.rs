//! Files uuencoded into a message's text (`begin 644 form.pdf` … `end`), as
//! some old mail programs and scripts still send them: the desk must see
//! them as it sees attachments. Lenient like `uudecode`: a short line is
//! padded, a missing `end` ends the file at the end of the text. Linear,
//! and a file is never longer than the text it came from.

/// One uuencoded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UuFile {
    /// The name on its `begin` line, as written.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The name on a `begin <mode> <name>` line, if it is one.
fn begin_line(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"begin ")?;
    let space = rest.iter().position(|&c| c == b' ')?;
    let (mode, name) = (&rest[..space], &rest[space + 1..]);
    if mode.is_empty() || mode.len() > 4 || !mode.iter().all(|c| (b'0'..=b'7').contains(c)) {
        return None;
    }
    let name = String::from_utf8_lossy(name).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// The bytes of one encoded line, appended to `out`.
fn decode_line(line: &[u8], out: &mut Vec<u8>) {
    let Some((&first, data)) = line.split_first() else {
        return;
    };
    let value = |c: u8| u32::from(c.wrapping_sub(b' ') & 0x3f);
    let mut left = value(first) as usize;
    for group in data.chunks(4) {
        if left == 0 {
            break;
        }
        let mut quad = [0u32; 4];
        for (q, &c) in quad.iter_mut().zip(group) {
            *q = value(c);
        }
        let n = (quad[0] << 18) | (quad[1] << 12) | (quad[2] << 6) | quad[3];
        for byte in [(n >> 16) as u8, (n >> 8) as u8, n as u8]
            .into_iter()
            .take(left)
        {
            out.push(byte);
            left -= 1;
        }
    }
}

/// Every uuencoded file in `text`, in order.
pub fn files(text: &[u8]) -> Vec<UuFile> {
    let mut found = Vec::new();
    let mut current: Option<UuFile> = None;
    for line in text.split(|&c| c == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match current.as_mut() {
            None => {
                if let Some(name) = begin_line(line) {
                    current = Some(UuFile {
                        name,
                        bytes: Vec::new(),
                    });
                }
            }
            Some(_) if line == b"end" => found.extend(current.take()),
            Some(file) => decode_line(line, &mut file.bytes),
        }
    }
    found.extend(current);
    found
}

/// Encodes `bytes` as a uuencoded file named `name` (tests and fixtures).
pub fn encode(name: &str, bytes: &[u8]) -> Vec<u8> {
    let char_of = |v: u32| if v == 0 { b'`' } else { v as u8 + b' ' };
    let mut out = format!("begin 644 {name}\n").into_bytes();
    for chunk in bytes.chunks(45) {
        out.push(char_of(chunk.len() as u32));
        for triple in chunk.chunks(3) {
            let mut t = [0u8; 3];
            t[..triple.len()].copy_from_slice(triple);
            let n = (u32::from(t[0]) << 16) | (u32::from(t[1]) << 8) | u32::from(t[2]);
            for shift in [18, 12, 6, 0] {
                out.push(char_of((n >> shift) & 0x3f));
            }
        }
        out.push(b'\n');
    }
    out.extend_from_slice(b"`\nend\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_comes_back_as_it_was_encoded() {
        let bytes: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let text = [
            b"Bonjour, voici le formulaire.\r\n\r\n".as_slice(),
            &encode("DA-100.pdf", &bytes),
            b"\r\nMerci\r\n",
        ]
        .concat();
        assert_eq!(
            files(&text),
            [UuFile {
                name: "DA-100.pdf".into(),
                bytes
            }]
        );
    }

    #[test]
    fn the_classic_sample_and_a_missing_end() {
        // `uuencode` of "Cat" (the Wikipedia example).
        let text = b"begin 644 cat.txt\n#0V%T\n`\nend\n";
        assert_eq!(files(text)[0].bytes, b"Cat");
        let cut = b"begin 644 cut.txt\n#0V%T\n";
        assert_eq!(files(cut)[0].bytes, b"Cat");
        assert!(files(b"begin here the letter\nend\n").is_empty());
    }
}
