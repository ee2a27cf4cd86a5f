//! A seeded mutation fuzzer on stable Rust: inputs from a corpus kept in
//! the repository, changed by a few random edits each (bit flips, cut and
//! copied ranges, splices of two inputs, tokens that matter to mail and PDF
//! parsers, extreme numbers, a token repeated thousands of times), fed to a
//! target until the time is up. A panic, or an input slower than
//! `slow`, is a failure: its input is saved under `target/fuzz-failures/`
//! to become a regression file in `tests/fuzz/corpus/regressions/`.
//!
//! Same seed, same inputs: `FUZZ_SEED` replays a run.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Inputs grow no larger than this (the hostile sizes have their own tests).
const MAX_INPUT: usize = 2 * 1024 * 1024;

/// Tokens that steer mail and PDF parsers into their less-trodden paths.
pub const TOKENS: &[&[u8]] = &[
    b"=?",
    b"?=",
    b"=?utf-8?B?",
    b"=?iso-8859-1?Q?",
    b"\r\n",
    b"\r\n\r\n",
    b"\r\n ",
    b"--b\r\n",
    b"--b--",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: application/ms-tnef\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"filename*0*=utf-8''",
    b"begin 644 a.pdf\n",
    b"\nend\n",
    b"%PDF-1.7\n",
    b"%%EOF",
    b"\x78\x9f\x3e\x22",
    b"obj",
    b"endobj",
    b"stream\n",
    b"endstream",
    b"<<",
    b">>",
    b"[",
    b"]",
    b"/Width",
    b"/Height",
    b"/Filter /FlateDecode",
    b"/DCTDecode",
    b"/CCITTFaxDecode",
    b"/BitsPerComponent 16",
    b"/ColorSpace /DeviceCMYK",
    b"/Kids [",
    b"/Parent",
    b"q ",
    b"Q ",
    b"cm",
    b"Do",
    b"BT",
    b"ET",
    b"Tj",
    b"xref",
    b"trailer",
    b"startxref",
    b"0 R",
    b"APPROUVER",
    b"REFUSER",
    b"References: <",
    b"In-Reply-To: <",
    b"acces+",
];

/// Numbers that overflow, underflow or divide by zero.
const NUMBERS: &[&[u8]] = &[
    b"0",
    b"-1",
    b"1",
    b"4294967296",
    b"4294967295",
    b"2147483648",
    b"-2147483649",
    b"9223372036854775807",
    b"99999999999999999999",
    b"65535",
    b"65536",
    b"1e308",
    b"NaN",
];

/// What one run of a target gave.
#[derive(Debug)]
pub struct Figures {
    pub target: &'static str,
    pub inputs: u64,
    pub elapsed: Duration,
    /// Each failing input saved, with why it failed.
    pub failures: Vec<(String, PathBuf)>,
}

/// The run's length per target: `FUZZ_SECONDS`, else `default`.
pub fn seconds(default: u64) -> Duration {
    let s = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Duration::from_secs(s)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0067_7569_6368_6574)
}

/// One random edit of `input`.
fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let len = input.len();
    let at = |rng: &mut StdRng| {
        if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        }
    };
    match rng.random_range(0..9) {
        0 if len > 0 => {
            let i = at(rng);
            input[i] ^= 1 << rng.random_range(0..8);
        }
        1 if len > 0 => {
            let i = at(rng);
            input[i] = *b"\0\xff\n\r=?<>09 %/"
                .get(rng.random_range(0..14))
                .unwrap_or(&0);
        }
        2 if len > 1 => {
            let start = at(rng);
            let end = (start + rng.random_range(1..=256)).min(len);
            input.drain(start..end);
        }
        3 if len > 1 => {
            let start = at(rng);
            let end = (start + rng.random_range(1..=512)).min(len);
            let copy = input[start..end].to_vec();
            let to = rng.random_range(0..=len);
            input.splice(to..to, copy);
        }
        4 => {
            let token = TOKENS[rng.random_range(0..TOKENS.len())];
            let to = rng.random_range(0..=len);
            input.splice(to..to, token.iter().copied());
        }
        5 if !corpus.is_empty() => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            let from = rng.random_range(0..=other.len());
            let cut = rng.random_range(0..=len);
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
        }
        6 => {
            // A number in the input becomes an extreme one.
            let digits: Vec<usize> = (0..len).filter(|&i| input[i].is_ascii_digit()).collect();
            if let Some(&i) = digits.get(rng.random_range(0..digits.len().max(1))) {
                let end = (i..len)
                    .find(|&j| !input[j].is_ascii_digit())
                    .unwrap_or(len);
                let number = NUMBERS[rng.random_range(0..NUMBERS.len())];
                input.splice(i..end, number.iter().copied());
            }
        }
        7 => {
            // Amplification: one token many times over.
            let token = TOKENS[rng.random_range(0..TOKENS.len())];
            let times = rng.random_range(100..5_000);
            let to = rng.random_range(0..=len);
            input.splice(to..to, token.repeat(times));
        }
        _ => {
            let to = rng.random_range(0..=len);
            let bytes: Vec<u8> = (0..rng.random_range(1..16)).map(|_| rng.random()).collect();
            input.splice(to..to, bytes);
        }
    }
    input.truncate(MAX_INPUT);
}

/// Feeds mutated corpus inputs to `target` for `time`. Every seed is run
/// unchanged first.
pub fn fuzz(
    name: &'static str,
    corpus: &[Vec<u8>],
    time: Duration,
    slow: Duration,
    target: impl Fn(&[u8]),
) -> Figures {
    assert!(!corpus.is_empty(), "{name}: empty corpus");
    let mut rng = StdRng::seed_from_u64(seed() ^ name.len() as u64);
    let started = Instant::now();
    let mut figures = Figures {
        target: name,
        inputs: 0,
        elapsed: Duration::ZERO,
        failures: Vec::new(),
    };
    let mut round = 0usize;
    while round < corpus.len() || started.elapsed() < time {
        let mut input = corpus[round % corpus.len()].clone();
        if round >= corpus.len() {
            for _ in 0..rng.random_range(1..=6) {
                mutate(&mut rng, &mut input, corpus);
            }
        }
        round += 1;
        let one = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| target(&input)));
        let took = one.elapsed();
        figures.inputs += 1;
        let why = match outcome {
            Err(_) => Some("panic".to_string()),
            Ok(()) if took > slow => Some(format!("took {took:?}")),
            Ok(()) => None,
        };
        if let Some(why) = why {
            let saved = save(name, &input);
            eprintln!("fuzz {name}: {why}: {}", saved.display());
            figures.failures.push((why, saved));
        }
    }
    figures.elapsed = started.elapsed();
    eprintln!(
        "fuzz {name}: {} inputs in {:.1} s, {} failures",
        figures.inputs,
        figures.elapsed.as_secs_f64(),
        figures.failures.len()
    );
    figures
}

fn save(name: &str, input: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).expect("target/fuzz-failures");
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let path = dir.join(format!("{name}-{hash:016x}"));
    std::fs::write(&path, input).expect("save failing input");
    path
}
