//! Outlook's `winmail.dat` (TNEF, `application/ms-tnef`): when Outlook sends
//! "rich text" mail, the applicant's PDF travels inside it, not as an
//! attachment of its own. This small reader takes the attached files out:
//! the legacy attributes (`attAttachTitle` 0x8010, `attAttachData` 0x800F,
//! a new file at each `attAttachRendData` 0x9002) and, where Outlook put
//! them, the MAPI properties of `attAttachment` 0x9005
//! (`PR_ATTACH_DATA_BIN`, `PR_ATTACH_LONG_FILENAME`).
//!
//! No crate on crates.io reads TNEF and is kept up, hence this one. Every
//! length comes from the sender, so every read is a checked slice of the
//! input: a file is never longer than the input, and damaged records end
//! the walk with what was found so far. The fuzz harness drives it.

/// The signature TNEF streams begin with (little-endian 0x223E9F78).
const SIGNATURE: [u8; 4] = [0x78, 0x9f, 0x3e, 0x22];

/// Attribute ids (low 16 bits; the high 16 are the type).
const ATT_ATTACH_DATA: u16 = 0x800f;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_REND_DATA: u16 = 0x9002;
const ATT_ATTACHMENT: u16 = 0x9005;

/// MAPI property ids and types inside `attAttachment`.
const PR_ATTACH_DATA_BIN: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PT_STRING8: u16 = 0x001e;
const PT_UNICODE: u16 = 0x001f;
const PT_BINARY: u16 = 0x0102;
const PT_OBJECT: u16 = 0x000d;
const MV_FLAG: u16 = 0x1000;

/// Files taken from one TNEF stream at most.
const MAX_FILES: usize = 64;
/// MAPI properties read from one attachment at most.
const MAX_PROPERTIES: u32 = 4096;

/// One file found in a TNEF stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TnefFile {
    /// Its name, long name preferred; empty when Outlook gave none.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Whether `bytes` are a TNEF stream.
pub fn is_tnef(bytes: &[u8]) -> bool {
    bytes.starts_with(&SIGNATURE)
}

/// A cursor over the input whose reads fail rather than run past its end.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let slice = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(slice)
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A value padded to a multiple of 4 bytes, as MAPI properties are.
    fn padded(&mut self, n: usize) -> Option<&'a [u8]> {
        let value = self.take(n)?;
        self.take((4 - n % 4) % 4)?;
        Some(value)
    }
}

/// Every attached file in a TNEF stream, in order (files without data are
/// left out).
pub fn files(bytes: &[u8]) -> Vec<TnefFile> {
    let mut found: Vec<TnefFile> = Vec::new();
    let mut current: Option<TnefFile> = None;
    let mut r = Reader {
        data: bytes,
        pos: 0,
    };
    if r.take(4) != Some(SIGNATURE.as_slice()) || r.u16().is_none() {
        return found;
    }
    while found.len() < MAX_FILES {
        let Some(attribute) = next_attribute(&mut r) else {
            break;
        };
        let (id, data) = attribute;
        match id {
            ATT_ATTACH_REND_DATA => found.extend(current.replace(TnefFile::default())),
            ATT_ATTACH_TITLE => {
                let file = current.get_or_insert_with(TnefFile::default);
                if file.name.is_empty() {
                    file.name = string8(data);
                }
            }
            ATT_ATTACH_DATA => current.get_or_insert_with(TnefFile::default).bytes = data.to_vec(),
            ATT_ATTACHMENT => mapi_properties(data, current.get_or_insert_with(TnefFile::default)),
            _ => {}
        }
    }
    found.extend(current);
    found.retain(|f| !f.bytes.is_empty());
    found.truncate(MAX_FILES);
    found
}

/// One attribute: its id (low 16 bits) and data; the level byte and the
/// checksum are read past.
fn next_attribute<'a>(r: &mut Reader<'a>) -> Option<(u16, &'a [u8])> {
    let _level = r.take(1)?;
    let id = r.u32()? as u16;
    let len = r.u32()?;
    let data = r.take(usize::try_from(len).ok()?)?;
    r.u16()?;
    Some((id, data))
}

/// A NUL-terminated 8-bit string (Windows-1252 in practice; Latin-1 is
/// close enough for a file name).
fn string8(data: &[u8]) -> String {
    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    data[..end].iter().map(|&c| char::from(c)).collect()
}

fn unicode(data: &[u8]) -> String {
    let units: Vec<u16> = data
        .chunks_exact(2)
        .map(|p| u16::from_le_bytes([p[0], p[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// The MAPI properties of one attachment: its data and long name, when
/// there. Reading stops at the first property it cannot size.
fn mapi_properties(data: &[u8], file: &mut TnefFile) {
    let mut r = Reader { data, pos: 0 };
    let Some(count) = r.u32() else { return };
    for _ in 0..count.min(MAX_PROPERTIES) {
        let Some(values) = property(&mut r) else {
            return;
        };
        let (kind, id, values) = values;
        let Some(first) = values.first() else {
            continue;
        };
        match (id, kind) {
            (PR_ATTACH_DATA_BIN, PT_BINARY) => file.bytes = first.to_vec(),
            // An embedded object starts with the 16-byte id of its interface.
            (PR_ATTACH_DATA_BIN, PT_OBJECT) => file.bytes = first.get(16..).unwrap_or(&[]).to_vec(),
            (PR_ATTACH_LONG_FILENAME, PT_UNICODE) => file.name = unicode(first),
            (PR_ATTACH_LONG_FILENAME, PT_STRING8) => file.name = string8(first),
            (PR_ATTACH_FILENAME, PT_UNICODE) if file.name.is_empty() => file.name = unicode(first),
            (PR_ATTACH_FILENAME, PT_STRING8) if file.name.is_empty() => file.name = string8(first),
            _ => {}
        }
    }
}

/// One property: its type (without the multi-value flag), its id, and its
/// values. `None` for a type this reader cannot size.
fn property<'a>(r: &mut Reader<'a>) -> Option<(u16, u16, Vec<&'a [u8]>)> {
    let kind = r.u16()?;
    let id = r.u16()?;
    if id >= 0x8000 {
        // A named property: a GUID, then a number or a name.
        r.take(16)?;
        if r.u32()? == 0 {
            r.u32()?;
        } else {
            let len = r.u32()?;
            r.padded(usize::try_from(len).ok()?)?;
        }
    }
    let base = kind & !MV_FLAG;
    let variable = matches!(base, PT_STRING8 | PT_UNICODE | PT_BINARY | PT_OBJECT);
    let fixed = match base {
        0x0002 | 0x0003 | 0x0004 | 0x000a | 0x000b => 4,
        0x0005..=0x0007 | 0x0014 | 0x0040 => 8,
        0x0048 => 16,
        _ if variable => 0,
        _ => return None,
    };
    let count = if variable || kind & MV_FLAG != 0 {
        r.u32()?
    } else {
        1
    };
    let mut values = Vec::new();
    for _ in 0..count {
        let value = if variable {
            let len = r.u32()?;
            r.padded(usize::try_from(len).ok()?)?
        } else {
            r.take(fixed)?
        };
        // A count larger than the input fails at `take` long before it
        // could matter; the vector never outgrows the input either.
        values.push(value);
    }
    Some((base, id, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_tnef_and_damaged_tnef_give_nothing_without_failing() {
        assert!(files(b"").is_empty());
        assert!(files(b"%PDF-1.7").is_empty());
        let mut damaged = SIGNATURE.to_vec();
        damaged.extend_from_slice(&[0, 0, 2, 0x0f, 0x80, 6, 0, 0xff, 0xff, 0xff, 0x7f]);
        assert!(files(&damaged).is_empty());
        assert!(is_tnef(&damaged) && !is_tnef(b"x"));
    }

    #[test]
    fn strings_stop_at_their_nul() {
        assert_eq!(string8(b"form.pdf\0junk"), "form.pdf");
        assert_eq!(unicode(&[b'a', 0, 0xe9, 0, 0, 0, b'z', 0]), "aé");
    }
}
