//! Every threshold that turns what the reader measured into what it
//! concludes, in one value, each with the evidence that set it.
//!
//! Perception has constants of its own: how things are measured
//! (resolutions, search reaches, what grey is ink). What is decided from
//! those measures — is this page seen whole, is this box ticked, signed,
//! written in, is this reading sure — is decided here and nowhere else.
//! "The corpus" below is the project's generator (tools/gencorpus): the
//! standard mix and the hard mix of phone photos, handwriting and scanner
//! text layers, on seeds other than the one kept for measurement.

/// The reader's thresholds. [`CALIBRATION`] is the one in use; tests may
/// build others.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibration {
    // ---- Is the page seen whole? ----
    /// Fewest printed borders in the picture for the registration check to
    /// mean anything. A page shows 116 (page 2) to 152 (page 1); a photo
    /// cut in its margins still shows 100 or more, a cut through the
    /// middle of the form fewer than a dozen on the lost half.
    pub min_sites: usize,
    /// Share of the borders in the picture that must lie within 1.5 pt of
    /// the map. Surely registered pages of the corpus find 100 %; maps
    /// locked one row of boxes off found 40–64 %.
    pub confirmed_share: f64,
    /// Paper darker than this grey, beside the printed borders, is a page
    /// too dark to read. The hard mix puts a fine photo's paper at 67 or
    /// more in the deepest shadow of a vignetted corner (gain 0.5 × 0.7 ×
    /// 0.85 under a colour cast), and a `dark_page` at 32 or less (gain
    /// 0.11).
    pub dark_paper: f64,
    /// Margin a zone keeps from the picture's edges to count as inside, in
    /// points: a zone cut by the frame may have lost a letter.
    pub edge_pt: f64,

    // ---- Ticks and signatures ----
    /// Share of a checkbox interior that must be inked to count as ticked.
    /// Seed 4242 of the hard mix (60 forms; two-service, multi-form and
    /// damaged-page forms left out): 42 ticked boxes covered 0.111 to
    /// 0.43, 134 unticked ones 0.000.
    pub tick_coverage: f64,
    /// A signature's ink spreads at least this far, in points, along its
    /// bounding box's diagonal (a short signature may be written tall).
    /// Seed 4242 of the hard mix: 92 signed boxes spread 64 pt or more,
    /// with a longest stroke of 41 pt or more, 135 pt² of ink or more and
    /// strokes 1.8 pt thick at most; the smudge spread 11 pt with an 8.8
    /// pt stroke, 3.0 pt thick; the empty boxes held no ink.
    pub signature_spread_pt: f64,
    /// ... has one stroke at least this long, in points ...
    pub signature_stroke_pt: f64,
    /// ... at least this much ink, in square points ...
    pub signature_ink_pt2: f64,
    /// ... and strokes no thicker than this, in points: a pen line is 0.5
    /// to 2 pt wide, a blot or a filled smudge far more.
    pub signature_thickness_pt: f64,
    /// Fewest separate letter-sized blobs that make a typed name in a
    /// signature box (a first and a last name have at least six letters).
    pub printed_min_glyphs: usize,
    /// Share of the box's ink those letters must hold, and share of them
    /// standing on one baseline, for the ink to be laid out like print.
    pub printed_glyph_share: f64,
    pub printed_on_baseline: f64,
    /// Typed text in a signature box: Tesseract reads every word of it at
    /// least this confidently (≈0.95 on print fonts), while it stays below
    /// on handwriting, even on handwriting-like fonts (seen up to ≈0.93 for
    /// one word, never for all of them).
    pub typed_confidence: f32,
    /// ... over at least this many letters (a flourish read as one or two
    /// letters says nothing).
    pub typed_min_letters: usize,

    // ---- Is a text field written in? ----
    /// A field holds writing when one mark is at least this tall, in
    /// points ... Seed 4242 of the hard mix: 524 written fields had a mark
    /// 6.0 pt tall or more and 41 pt² of ink or more, but for five of
    /// one two-tone 600 dpi scan whose light pen left only traces (0 to
    /// 3.7 pt, 0 to 2.9 pt²); the 15 empty fields held no ink at all.
    pub writing_tall_pt: f64,
    /// ... and its marks hold at least this much ink, in square points (a
    /// short character's worth).
    pub writing_ink_pt2: f64,
    /// Less than writing but at least this much ink, in square points, is
    /// a trace: the field is illegible, not empty (marks under 0.6 pt² are
    /// dust and are never counted).
    pub writing_trace_pt2: f64,

    // ---- Is a reading sure? ----
    /// A first reading at least this confident is taken without a second.
    pub sure: f32,
    /// Two agreeing readings need one at least this confident. Measured on
    /// the corpora: wrong values came with up to 0.75, right ones rarely
    /// below.
    pub min_confidence: f32,
    /// Two agreeing readings this confident, but not more, call for a
    /// third; below it they are not worth one.
    pub fair: f32,

    // ---- Can the value be what its field holds? ----
    /// A birth date more than this many years back is a misreading (1335
    /// for 1995 was seen on a handwritten photo).
    pub oldest_birth_years: i32,
    /// A signing date before the form's own edition is a misreading; one
    /// after today by more than this many days too (2094 for 2024 was seen
    /// on a handwritten photo).
    pub signed_after_today_days: i64,
}

/// The calibration the reader runs with.
pub const CALIBRATION: Calibration = Calibration {
    min_sites: 12,
    confirmed_share: 0.7,
    dark_paper: 56.0,
    edge_pt: 2.0,
    tick_coverage: 0.06,
    signature_spread_pt: 30.0,
    signature_stroke_pt: 12.0,
    signature_ink_pt2: 12.0,
    signature_thickness_pt: 4.0,
    printed_min_glyphs: 6,
    printed_glyph_share: 0.8,
    printed_on_baseline: 0.75,
    typed_confidence: 0.90,
    typed_min_letters: 3,
    writing_tall_pt: 4.0,
    writing_ink_pt2: 4.0,
    writing_trace_pt2: 0.5,
    sure: 0.90,
    min_confidence: 0.80,
    fair: 0.5,
    oldest_birth_years: 110,
    signed_after_today_days: 1,
};
