//! Just enough HTML-to-text for staff replies sent without a plain-text
//! part: the words above the quoted message, one line per block.
//!
//! Everything from the first quotation container onward is dropped:
//! `<blockquote>`, Gmail's `<div class="gmail_quote">`, Outlook's
//! `#divRplyFwdMsg` (the `De : … Envoyé : …` block) and `#appendonsend`
//! (the empty marker Outlook puts before the quoted message), and the
//! `<hr>` Outlook draws above them. Replies put their words above all of
//! these, so cutting there loses nothing the decision needs.

/// Classes of the containers clients put the quoted message (or the
/// signature below the reply) in; Outlook on the web prefixes them `x_`.
const QUOTE_CLASSES: [&str; 7] = [
    "gmail_quote",
    "gmail_signature",
    "moz-cite-prefix",
    "moz-signature",
    "yahoo_quoted",
    "zmail_extra",
    "outlookmessageheader",
];

/// Ids of the same, lower-cased.
const QUOTE_IDS: [&str; 4] = [
    "divrplyfwdmsg",
    "appendonsend",
    "outlookmessageheader",
    "zwchr",
];

/// Elements whose content is never text (styles, scripts, the head).
const INVISIBLE: [&str; 4] = ["head", "style", "script", "title"];

/// Elements that start a new line of text.
const BLOCKS: [&str; 14] = [
    "br", "p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "pre",
];

/// The text of `html` above the quoted message.
pub(crate) fn fresh_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut hidden: Option<String> = None;
    while let Some(lt) = rest.find('<') {
        if hidden.is_none() {
            push_text(&mut out, &rest[..lt]);
        }
        let after = &rest[lt..];
        // A `<` that opens no tag is text (`a < b` in sloppy HTML).
        if !after[1..]
            .starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?')
        {
            if hidden.is_none() {
                out.push('<');
            }
            rest = &after[1..];
            continue;
        }
        if after.starts_with("<!--") {
            rest = after.find("-->").map_or("", |end| &after[end + 3..]);
            continue;
        }
        if after.starts_with("<?") {
            rest = after.find("?>").map_or("", |end| &after[end + 2..]);
            continue;
        }
        let Some(end) = tag_end(after) else {
            // An unterminated tag ends the text.
            return out;
        };
        let tag = Tag::parse(&after[1..end]);
        rest = &after[end + 1..];
        if let Some(name) = &hidden {
            if tag.closing && tag.name == *name {
                hidden = None;
            }
            continue;
        }
        if !tag.closing && tag.starts_quote() {
            return out;
        }
        if !tag.closing && INVISIBLE.contains(&tag.name.as_str()) {
            hidden = Some(tag.name);
        } else if BLOCKS.contains(&tag.name.as_str()) {
            out.push('\n');
        }
    }
    if hidden.is_none() {
        push_text(&mut out, rest);
    }
    out
}

/// The index of the `>` closing the tag that starts `s` (quoted attribute
/// values may hold `>`), if any.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

struct Tag {
    name: String,
    closing: bool,
    id: String,
    class: String,
}

impl Tag {
    fn parse(inner: &str) -> Tag {
        let closing = inner.starts_with('/');
        let inner = inner.trim_start_matches('/');
        let name_end = inner
            .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
            .unwrap_or(inner.len());
        let attrs = &inner[name_end..];
        Tag {
            name: inner[..name_end].to_ascii_lowercase(),
            closing,
            id: attribute(attrs, "id").unwrap_or_default(),
            class: attribute(attrs, "class").unwrap_or_default(),
        }
    }

    fn starts_quote(&self) -> bool {
        let classes = || self.class.split_whitespace();
        self.name == "blockquote"
            || self.name == "hr"
            || classes().any(|c| {
                let c = c.strip_prefix("x_").unwrap_or(c);
                QUOTE_CLASSES.contains(&c)
            })
            || QUOTE_IDS.contains(&self.id.strip_prefix("x_").unwrap_or(&self.id))
    }
}

/// The lower-cased value of attribute `key` in a tag's attribute text.
fn attribute(attrs: &str, key: &str) -> Option<String> {
    let lower = attrs.to_ascii_lowercase();
    let mut from = 0;
    while let Some(pos) = lower[from..].find(key) {
        let at = from + pos;
        from = at + key.len();
        let before_ok = at == 0 || lower[..at].ends_with(|c: char| c.is_whitespace());
        let rest = lower[from..].trim_start();
        if !before_ok || !rest.starts_with('=') {
            continue;
        }
        let value = rest[1..].trim_start();
        return Some(match value.chars().next() {
            Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or_default().to_string(),
            _ => value
                .split(|c: char| c.is_whitespace() || c == '>')
                .next()
                .unwrap_or_default()
                .to_string(),
        });
    }
    None
}

/// Appends text between tags: source newlines are only spaces in HTML, and
/// character references are decoded.
fn push_text(out: &mut String, text: &str) {
    let text = text.replace(['\r', '\n', '\t'], " ");
    let mut rest = text.as_str();
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        match after.find(';').filter(|&semi| semi <= 10) {
            Some(semi) => match entity(&after[1..semi]) {
                Some(c) => {
                    out.push(c);
                    rest = &after[semi + 1..];
                }
                None => {
                    out.push('&');
                    rest = &after[1..];
                }
            },
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
}

/// A character reference's character: numeric ones, and the named ones
/// French and English mail clients write.
fn entity(name: &str) -> Option<char> {
    if let Some(num) = name.strip_prefix('#') {
        let code = match num.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok()?,
            None => num.parse().ok()?,
        };
        return char::from_u32(code);
    }
    Some(match name {
        "nbsp" => ' ',
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" => '\'',
        "rsquo" => '’',
        "lsquo" => '‘',
        "laquo" => '«',
        "raquo" => '»',
        "eacute" => 'é',
        "Eacute" => 'É',
        "egrave" => 'è',
        "Egrave" => 'È',
        "ecirc" => 'ê',
        "Ecirc" => 'Ê',
        "euml" => 'ë',
        "agrave" => 'à',
        "Agrave" => 'À',
        "acirc" => 'â',
        "ccedil" => 'ç',
        "Ccedil" => 'Ç',
        "icirc" => 'î',
        "iuml" => 'ï',
        "ocirc" => 'ô',
        "ugrave" => 'ù',
        "ucirc" => 'û',
        "uuml" => 'ü',
        "oelig" => 'œ',
        "OElig" => 'Œ',
        "hellip" => '…',
        "ndash" => '–',
        "mdash" => '—',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::fresh_text;

    fn lines(s: &str) -> Vec<String> {
        s.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    }

    #[test]
    fn keeps_text_above_quotation_containers() {
        let cases: [(&str, &[&str]); 12] = [
            (
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<html><head><!--[if gte mso 9]><xml><o:x/></xml><![endif]--></head><body><![if !supportLists]><p class=MsoNormal>APPROUVER<o:p></o:p></p><![endif]></body></html>",
                &["APPROUVER"],
            ),
            (
                "<div>REFUSER doublon</div><div id=\"x_divRplyFwdMsg\">De : acces</div>",
                &["REFUSER doublon"],
            ),
            (
                "<div>REFUSE wrong</div><div class=\"yahoo_quoted\">On Monday wrote:</div>",
                &["REFUSE wrong"],
            ),
            (
                "<html><head><style>p{color:red}</style></head><body><p>REFUSER signature&nbsp;absente</p><p>Merci</p></body></html>",
                &["REFUSER signature absente", "Merci"],
            ),
            (
                "<div dir=\"ltr\">APPROUVER</div><br><div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon wrote:</div><blockquote>APPROVE</blockquote></div>",
                &["APPROUVER"],
            ),
            (
                "<div>Refuser : pi&egrave;ce illisible</div><div id=\"appendonsend\"></div><hr style=\"display:inline-block\"><div id=\"divRplyFwdMsg\"><b>De :</b> acces</div>",
                &["Refuser : pièce illisible"],
            ),
            (
                "<p>APPROVE</p><DIV ID=divRplyFwdMsg>From: x</DIV>",
                &["APPROVE"],
            ),
            (
                "<p>a &lt;b&gt; &amp; &#233;&#xE9; &unknown; & done</p><!-- <blockquote> --><p>after comment</p>",
                &["a <b> & éé &unknown; & done", "after comment"],
            ),
            (
                "<p title=\"x > y\">REFUSE</p><blockquote type=cite>APPROVE</blockquote>",
                &["REFUSE"],
            ),
            ("<p>unterminated <b", &["unterminated"]),
            ("<p>1 < 2 <br>3 <> 4</p>", &["1 < 2", "3 <> 4"]),
            (
                "<div class=\"moz-cite-prefix\">Le 18/11/2024 à 09:12, X a écrit&nbsp;:</div>",
                &[],
            ),
        ];
        for (html, want) in cases {
            assert_eq!(lines(&fresh_text(html)), want.to_vec(), "{html}");
        }
    }
}
