//! Sender authentication of staff replies from `Authentication-Results`
//! headers (RFC 8601).
//!
//! Only headers whose authserv-id is the configured trusted server count:
//! RFC 8601 §5 makes that server remove any header carrying its id that
//! arrived from outside, so those are the only results not written by the
//! sender. A reply passes with `dmarc=pass`, or with a `dkim=pass` whose
//! signing domain is aligned with the `From` domain. A `dmarc=fail` in any
//! trusted header vetoes, as a second line of defence should a forged
//! header have slipped through. No trusted header is no pass.

use std::fmt;

use mailparse::{addrparse_header, MailAddr, MailHeader};

use crate::address::Address;

/// Why a reply is taken as coming from its `From` domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthPass {
    Dmarc,
    /// A valid DKIM signature by this domain, aligned with `From`.
    AlignedDkim {
        domain: String,
    },
}

/// Why a reply is not authenticated: for operators' logs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("no Authentication-Results header from the trusted server")]
    NoTrustedResults,
    #[error("no single From address")]
    NoFrom,
    #[error("DMARC failed")]
    DmarcFailed,
    #[error("no dmarc=pass and no DKIM pass aligned with {from_domain}")]
    NotAligned { from_domain: String },
}

impl fmt::Display for AuthPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthPass::Dmarc => f.write_str("dmarc=pass"),
            AuthPass::AlignedDkim { domain } => write!(f, "dkim=pass aligned (d={domain})"),
        }
    }
}

/// One method result of an `Authentication-Results` header, e.g.
/// `dkim=pass header.d=example.org`: method, result and the properties
/// (`header.d`, `smtp.mailfrom`, `reason`…) with keys lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MethodResult {
    pub method: String,
    pub result: String,
    pub properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, key: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// One parsed `Authentication-Results` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResults {
    pub authserv_id: String,
    pub results: Vec<MethodResult>,
}

/// Longest header value parsed; real ones are a few hundred bytes.
const MAX_HEADER_LEN: usize = 16 * 1024;

/// Parses one header value (unfolded or not): comments in parentheses are
/// dropped (nested, escaped), quoted strings unquoted, `;` separates the
/// authserv-id from the results. `None` if there is no authserv-id.
pub fn parse_results(value: &str) -> Option<AuthResults> {
    if value.len() > MAX_HEADER_LEN {
        return None;
    }
    let mut segments = split_segments(&lex(value)).into_iter();
    let head = segments.next()?;
    // The authserv-id may be followed by a version number (`mx.example 1`).
    let authserv_id = match head.first()? {
        Lexeme::Word(w) => w.clone(),
        _ => return None,
    };
    let results = segments.filter_map(|s| method_result(&s)).collect();
    Some(AuthResults {
        authserv_id,
        results,
    })
}

/// Judges a reply's authentication from its `Authentication-Results`
/// values, its `From` address and the configured trusted authserv-id.
pub fn evaluate<'a>(
    results: impl IntoIterator<Item = &'a str>,
    from: Option<&str>,
    authserv_id: &str,
) -> Result<AuthPass, AuthFailure> {
    let headers: Vec<AuthResults> = results
        .into_iter()
        .filter_map(parse_results)
        .filter(|r| r.authserv_id.eq_ignore_ascii_case(authserv_id.trim()))
        .collect();
    if headers.is_empty() {
        return Err(AuthFailure::NoTrustedResults);
    }
    let trusted: Vec<MethodResult> = headers.into_iter().flat_map(|r| r.results).collect();
    let from_domain = from
        .and_then(Address::parse)
        .map(|a| a.domain().trim_end_matches('.').to_ascii_lowercase())
        .ok_or(AuthFailure::NoFrom)?;
    let is = |r: &MethodResult, method: &str, result: &str| {
        r.method.eq_ignore_ascii_case(method) && r.result.eq_ignore_ascii_case(result)
    };
    if trusted.iter().any(|r| is(r, "dmarc", "fail")) {
        return Err(AuthFailure::DmarcFailed);
    }
    if trusted.iter().any(|r| is(r, "dmarc", "pass")) {
        return Ok(AuthPass::Dmarc);
    }
    trusted
        .iter()
        .filter(|r| is(r, "dkim", "pass"))
        .filter_map(signing_domain)
        .find(|d| aligned(d, &from_domain))
        .map(|domain| AuthPass::AlignedDkim { domain })
        .ok_or(AuthFailure::NotAligned { from_domain })
}

/// [`evaluate`] on a parsed message's headers. `From` must hold exactly
/// one address: DMARC itself refuses to judge a message with several.
pub fn authenticate(headers: &[MailHeader], authserv_id: &str) -> Result<AuthPass, AuthFailure> {
    let values: Vec<String> = headers
        .iter()
        .filter(|h| {
            h.get_key_ref()
                .eq_ignore_ascii_case("Authentication-Results")
        })
        .map(MailHeader::get_value)
        .collect();
    let from = sole_from(headers);
    evaluate(
        values.iter().map(String::as_str),
        from.as_deref(),
        authserv_id,
    )
}

/// The address of the single `From` header holding a single mailbox.
pub fn sole_from(headers: &[MailHeader]) -> Option<String> {
    let mut froms = headers
        .iter()
        .filter(|h| h.get_key_ref().eq_ignore_ascii_case("From"));
    let header = froms.next()?;
    if froms.next().is_some() {
        return None;
    }
    match addrparse_header(header).ok()?.as_slice() {
        [MailAddr::Single(one)] => Some(one.addr.trim().to_string()),
        _ => None,
    }
}

/// The DKIM signing domain: `header.d`, else the domain of `header.i`.
fn signing_domain(r: &MethodResult) -> Option<String> {
    let d = r.property("header.d").or_else(|| {
        r.property("header.i")
            .and_then(|i| i.rsplit_once('@').map(|(_, d)| d))
    })?;
    let d = d.trim_end_matches('.').to_ascii_lowercase();
    (!d.is_empty()).then_some(d)
}

/// Relaxed DMARC alignment, simplified: the two domains are equal, or one
/// is a subdomain of the other. True relaxed alignment compares
/// organisational domains through the Public Suffix List, which this crate
/// does not carry; the simplification never aligns sibling subdomains
/// (`a.example.org` with `b.example.org`), which only makes it stricter,
/// and refuses single-label domains so that a bare suffix (`com`) aligns
/// with nothing.
pub fn aligned(signing: &str, from: &str) -> bool {
    let (a, b) = (signing.to_ascii_lowercase(), from.to_ascii_lowercase());
    let sub = |x: &str, y: &str| {
        x.len() > y.len() && x.ends_with(y) && x[..x.len() - y.len()].ends_with('.')
    };
    a.contains('.') && b.contains('.') && (a == b || sub(&a, &b) || sub(&b, &a))
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lexeme {
    Word(String),
    Equals,
    Semicolon,
}

/// Splits a header value into words, `=` and `;`, dropping comments and
/// unquoting quoted strings.
fn lex(value: &str) -> Vec<Lexeme> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut chars = value.chars();
    let flush = |word: &mut String, out: &mut Vec<Lexeme>| {
        if !word.is_empty() {
            out.push(Lexeme::Word(std::mem::take(word)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => {
                flush(&mut word, &mut out);
                skip_comment(&mut chars);
            }
            '"' => {
                while let Some(q) = chars.next() {
                    match q {
                        '\\' => word.extend(chars.next()),
                        '"' => break,
                        q => word.push(q),
                    }
                }
                // An empty quoted string is still a value.
                out.push(Lexeme::Word(std::mem::take(&mut word)));
            }
            '=' | ';' => {
                flush(&mut word, &mut out);
                out.push(if c == '=' {
                    Lexeme::Equals
                } else {
                    Lexeme::Semicolon
                });
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Consumes a comment whose `(` was just read, nested ones included.
fn skip_comment(chars: &mut std::str::Chars) {
    let mut depth = 1;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

fn split_segments(lexemes: &[Lexeme]) -> Vec<Vec<Lexeme>> {
    lexemes
        .split(|l| *l == Lexeme::Semicolon)
        .map(<[Lexeme]>::to_vec)
        .collect()
}

/// `method[/version]=result *(key=value)`; `None` for `none` or garbage.
fn method_result(segment: &[Lexeme]) -> Option<MethodResult> {
    let mut pairs = segment.chunks(3).map_while(|c| match c {
        [Lexeme::Word(k), Lexeme::Equals, Lexeme::Word(v)] => {
            Some((k.to_ascii_lowercase(), v.clone()))
        }
        _ => None,
    });
    let (method, result) = pairs.next()?;
    let method = method.split('/').next().unwrap_or_default().to_string();
    Some(MethodResult {
        method,
        result: result.to_ascii_lowercase(),
        properties: pairs.collect(),
    })
}
