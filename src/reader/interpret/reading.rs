//! Which OCR reading of a field is sure: the policy over passes, pure
//! over a function that performs one pass when asked (tested here on
//! scripted readings).

use super::calibration::Calibration;
use super::{address, kinds, names};
use crate::domain::FieldReading;
use crate::reader::layout::Kind;
use crate::rules::is_valid_email;

/// The value of a cleaned field crop, or `None` when the readings do not
/// make it sure. Taken are: one sure reading; two different readings that
/// agree, the better one confident; three that agree, when the two
/// agreeing ones are only fair (long e-mail addresses score low as words,
/// but three readings at three sizes do not make the same mistake by
/// chance); or a confident reading without whitelist that shows what is
/// no address. Two readings that disagree on letters leave the field
/// illegible: a third reading was tried as arbiter, and was seen to side
/// with the wrong one.
///
/// Pure over `read`, which performs one pass (OCR) when asked: passes are
/// asked for only when needed, in the order of [`Pass`].
///
/// A scanner's text layer (`layer`, normalised) is one more reading, never
/// enough alone: a sure first reading it contradicts needs a second pass
/// like an unsure one, and when the passes settle nothing, a pass at least
/// fair that the layer agrees with is taken (two engines do not slip the
/// same way by chance).
pub fn reading_of(
    kind: Kind,
    cal: &Calibration,
    layer: Option<&str>,
    mut read: impl FnMut(Pass) -> Option<FieldReading>,
) -> Option<FieldReading> {
    let mut made = Vec::new();
    let mut recorded = |pass| {
        let reading = read(pass).map(|r| with_known_accents(kind, r));
        made.extend(reading.clone());
        reading
    };
    if let Some(sure) = by_passes(kind, cal, layer, &mut recorded) {
        return Some(sure);
    }
    let layer = with_known_accents(
        kind,
        FieldReading {
            value: layer?.to_string(),
            confidence: 0.0,
        },
    );
    made.iter()
        .filter(|r| r.confidence >= cal.fair)
        .find_map(|r| {
            let value = agreement(kind, &r.value, &layer.value)?;
            let doubtful =
                value.contains(names::DOUBTFUL) && names::settle_accents(&value).is_none();
            (!doubtful).then_some(FieldReading {
                value,
                confidence: r.confidence,
            })
        })
}

/// The passes alone (see [`reading_of`]); `read` gives each pass's reading
/// with known accents settled.
fn by_passes(
    kind: Kind,
    cal: &Calibration,
    layer: Option<&str>,
    read: &mut dyn FnMut(Pass) -> Option<FieldReading>,
) -> Option<FieldReading> {
    let whitelist = kinds::whitelist(kind);
    let first = read(Pass::First);
    if let Some(first) = first.as_ref().filter(|r| r.confidence >= cal.sure) {
        if layer.is_none_or(|l| agreement(kind, &first.value, l).is_some()) {
            return Some(first.clone());
        }
    }
    // Not sure enough: read a second time, differently (smaller, no
    // whitelist). This rescues clean words Tesseract happens to score low,
    // and turns an accent it hesitates on (È or Ë?) into a question for staff.
    let second = read(Pass::Smaller)?;
    if let Some(first) = &first {
        if let Some(value) = agreement(kind, &first.value, &second.value) {
            // Both readings confuse these the same way: agreement proves
            // nothing, unless the accent is on a known name.
            if value.contains(names::DOUBTFUL) && names::settle_accents(&value).is_none() {
                return None;
            }
            let best = first.confidence.max(second.confidence);
            if best >= cal.min_confidence {
                return Some(FieldReading {
                    confidence: best,
                    value,
                });
            }
            if best < cal.fair {
                return None;
            }
            let third = read(Pass::Larger)?;
            return agreement(kind, &value, &third.value).map(|value| FieldReading {
                confidence: best.max(third.confidence),
                value,
            });
        }
        // The same letters, in other case (LUC, Luc): the sure reading
        // says which.
        if first.value.to_lowercase() == second.value.to_lowercase()
            && second.confidence >= cal.sure
        {
            return Some(second);
        }
    }
    // The whitelist kept the first reading from showing what is written
    // (`jean(at)bell.net`, `bell,net`); a confident reading without it is
    // the value as written, for the rules to judge.
    if second.confidence >= cal.min_confidence && !within(whitelist, &second.value) {
        return Some(second);
    }
    // Neither reading is an address (the @ left out): which one is right
    // does not matter, the address is to be corrected. Two readings that
    // both see no address are evidence enough at a fair confidence: the
    // value is only ever used to refuse it.
    let no_address = |r: &FieldReading| !is_valid_email(&r.value);
    if kind == Kind::Email
        && second.confidence >= cal.fair
        && no_address(&second)
        && first.as_ref().is_none_or(no_address)
    {
        return Some(second);
    }
    None
}

/// A name read with a doubtful accent on a capital E (Marie-Êve) as the
/// one known name it can be (Marie-Ève); unchanged if there is none, so
/// that the accent still keeps agreement from proving it.
fn with_known_accents(kind: Kind, reading: FieldReading) -> FieldReading {
    if kind != Kind::Text {
        return reading;
    }
    match names::settle_accents(&reading.value) {
        Some(value) => FieldReading { value, ..reading },
        None => reading,
    }
}

/// The value two readings agree on: the same text, or for an address the
/// same text where one reading's doubtful capital I is the other's l or i.
fn agreement(kind: Kind, a: &str, b: &str) -> Option<String> {
    match kind {
        Kind::Email => address::reconcile(a, b),
        _ => (a == b).then(|| a.to_string()),
    }
}

/// The ways a field crop is read, in the order they are tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// As cut, with the kind's whitelist.
    First,
    /// At three quarters of the size, without whitelist.
    Smaller,
    /// At four thirds of the size, with the whitelist.
    Larger,
}

/// Whether every character of `value` is allowed by `whitelist` (an empty
/// whitelist allows all).
fn within(whitelist: &str, value: &str) -> bool {
    whitelist.is_empty() || value.chars().all(|c| whitelist.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::interpret::CALIBRATION;

    fn reading(value: &str, confidence: f32) -> FieldReading {
        FieldReading {
            value: value.into(),
            confidence,
        }
    }

    /// `reading_of` over scripted passes; also which passes it asked for.
    fn judge(kind: Kind, passes: &[(Pass, FieldReading)]) -> (Option<String>, Vec<Pass>) {
        judge_with(kind, None, passes)
    }

    /// As [`judge`], with a text layer.
    fn judge_with(
        kind: Kind,
        layer: Option<&str>,
        passes: &[(Pass, FieldReading)],
    ) -> (Option<String>, Vec<Pass>) {
        let mut asked = Vec::new();
        let value = reading_of(kind, &CALIBRATION, layer, |pass| {
            asked.push(pass);
            passes
                .iter()
                .find(|(p, _)| *p == pass)
                .map(|(_, r)| r.clone())
        })
        .map(|r| r.value);
        (value, asked)
    }

    #[test]
    fn a_text_layer_is_one_more_reading_never_the_only_one() {
        // Agreeing with a fair pass, it settles what the passes did not.
        let fair = [
            (Pass::First, reading("Benoît", 0.62)),
            (Pass::Smaller, reading("Benoit", 0.55)),
        ];
        assert_eq!(judge(Kind::Text, &fair).0, None);
        assert_eq!(
            judge_with(Kind::Text, Some("Benoît"), &fair).0.as_deref(),
            Some("Benoît")
        );
        // A slip of the layer does not overrule two agreeing passes...
        let agreeing = [
            (Pass::First, reading("Hélène", 0.95)),
            (Pass::Smaller, reading("Hélène", 0.9)),
        ];
        let (value, asked) = judge_with(Kind::Text, Some("Helene"), &agreeing);
        assert_eq!(value.as_deref(), Some("Hélène"));
        // ...but a sure first reading it contradicts is read again.
        assert_eq!(asked, [Pass::First, Pass::Smaller]);
        let (_, asked) = judge_with(Kind::Text, Some("Hélène"), &agreeing);
        assert_eq!(asked, [Pass::First]);
        // Alone, or beside a poor pass, it gives nothing.
        assert_eq!(judge_with(Kind::Text, Some("Benoît"), &[]).0, None);
        let poor = [
            (Pass::First, reading("Benoît", 0.3)),
            (Pass::Smaller, reading("Bcnoit", 0.2)),
        ];
        assert_eq!(judge_with(Kind::Text, Some("Benoît"), &poor).0, None);
    }

    #[test]
    fn a_sure_first_reading_is_taken_alone() {
        let (value, asked) = judge(Kind::Text, &[(Pass::First, reading("Luc", 0.95))]);
        assert_eq!(value.as_deref(), Some("Luc"));
        assert_eq!(asked, [Pass::First]);
    }

    #[test]
    fn readings_that_disagree_leave_the_field_illegible() {
        let passes = [
            (Pass::First, reading("Perreauit", 0.63)),
            (Pass::Smaller, reading("Perreault", 0.86)),
            (Pass::Larger, reading("Perreauit", 0.84)),
        ];
        assert_eq!(
            judge(Kind::Text, &passes),
            (None, vec![Pass::First, Pass::Smaller])
        );
    }

    #[test]
    fn fair_agreement_needs_a_third_reading() {
        let address = "julie.levesque23@polycliniquechicoutimi.ca";
        let mut passes = vec![
            (Pass::First, reading(address, 0.49)),
            (Pass::Smaller, reading(address, 0.77)),
        ];
        assert_eq!(judge(Kind::Email, &passes).0, None);
        passes.push((Pass::Larger, reading(address, 0.6)));
        assert_eq!(judge(Kind::Email, &passes).0.as_deref(), Some(address));
        // Two readings that agree under `fair` are not worth a third.
        let weak = [
            (Pass::First, reading(address, 0.3)),
            (Pass::Smaller, reading(address, 0.4)),
            (Pass::Larger, reading(address, 0.9)),
        ];
        assert_eq!(judge(Kind::Email, &weak).0, None);
    }

    #[test]
    fn confusable_accents_are_settled_by_known_names_only() {
        // Agreement on a doubtful accent proves nothing by itself...
        let unknown = [
            (Pass::First, reading("Êvariste", 0.80)),
            (Pass::Smaller, reading("Êvariste", 0.69)),
        ];
        assert_eq!(judge(Kind::Text, &unknown).0, None);
        // ...but on a known name the accent is the name's.
        let known = [
            (Pass::First, reading("Marie-Êve", 0.80)),
            (Pass::Smaller, reading("Marie-Ëve", 0.69)),
        ];
        assert_eq!(judge(Kind::Text, &known).0.as_deref(), Some("Marie-Ève"));
        let sure = [(Pass::First, reading("Marie-Êve", 0.93))];
        assert_eq!(judge(Kind::Text, &sure).0.as_deref(), Some("Marie-Ève"));
        // Only names: an address keeps what was read.
        let address = [(Pass::First, reading("Êve@x.ca", 0.95))];
        assert_eq!(judge(Kind::Email, &address).0.as_deref(), Some("Êve@x.ca"));
    }

    #[test]
    fn case_is_settled_by_the_sure_reading() {
        let passes = [
            (Pass::First, reading("LUC", 0.74)),
            (Pass::Smaller, reading("Luc", 0.95)),
        ];
        assert_eq!(judge(Kind::Text, &passes).0.as_deref(), Some("Luc"));
        let unsure = [
            (Pass::First, reading("LUC", 0.74)),
            (Pass::Smaller, reading("Luc", 0.85)),
        ];
        assert_eq!(judge(Kind::Text, &unsure).0, None);
    }

    #[test]
    fn what_is_no_address_is_reported_as_written() {
        // The whitelist forced `(at)` into letters the first time.
        let hidden = [
            (Pass::First, reading("marie.roy@globetrotter.net", 0.0)),
            (
                Pass::Smaller,
                reading("marie.roy(at)globetrotter.net", 0.91),
            ),
        ];
        assert_eq!(
            judge(Kind::Email, &hidden).0.as_deref(),
            Some("marie.roy(at)globetrotter.net")
        );
        // The @ left out: neither reading is an address.
        let no_at = [
            (Pass::First, reading("j-parent93hotmail.com", 0.0)),
            (Pass::Smaller, reading("j.parent93hotmail.com", 0.88)),
        ];
        assert_eq!(
            judge(Kind::Email, &no_at).0.as_deref(),
            Some("j.parent93hotmail.com")
        );
        // But a valid first reading keeps a doubtful second from ruling.
        let doubtful = [
            (Pass::First, reading("j.parent93@hotmail.com", 0.7)),
            (Pass::Smaller, reading("j.parent93hotmail.com", 0.88)),
        ];
        assert_eq!(judge(Kind::Email, &doubtful).0, None);
        // Two readings without an address suffice at a fair confidence,
        // not below it.
        let fair = [
            (Pass::First, reading("andree.simard61@bellnet", 0.0)),
            (Pass::Smaller, reading("andree.simard61@bell,net", 0.79)),
        ];
        assert!(judge(Kind::Email, &fair).0.is_some());
        let poor = [
            (Pass::First, reading("andree.simard61@bellnet", 0.0)),
            (Pass::Smaller, reading("andree.simard61@bell,net", 0.4)),
        ];
        assert_eq!(judge(Kind::Email, &poor).0, None);
    }

    #[test]
    fn a_value_the_whitelist_could_not_show_is_told_apart() {
        let email = kinds::whitelist(Kind::Email);
        assert!(within(email, "jean.roy@bell.net"));
        assert!(!within(email, "jean.roy(at)bell.net"));
        assert!(!within(email, "jean.roy@bell,net"));
        assert!(within(kinds::whitelist(Kind::Text), "Éric (fils)"));
    }
}
