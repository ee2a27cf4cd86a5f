//! Where a message goes: one answer for the daemon and for `guichet check`,
//! so that `check` shows what the daemon would do with the same file and
//! the same settings. Pure: the store's part (was it handled already?) is
//! asked by the caller and passed in.

use crate::config::Settings;
use crate::staff::StaffReply;

/// Where a message goes, the same for the daemon and `guichet check`.
#[derive(Debug)]
pub enum Route {
    /// Handled before (same fingerprint): only settled again, nothing new.
    Redelivery,
    /// A reply to an approval request (a token plus-address): staff's,
    /// never the applicant pipeline's.
    Staff(Box<StaffReply>),
    /// Over `intake.max_message_bytes`: answered from its headers
    /// ([`crate::pipeline::too_large`]) and set aside.
    TooLarge,
    /// An applicant's message: [`crate::pipeline::handle`] (which keeps silent for
    /// auto-replies, bounces, list and own mail).
    Applicant,
}

/// Routes a parsed message: `raw` its (defused) bytes, `oversized` whether
/// only its header section was taken, `processed` whether the store has
/// its fingerprint already.
pub fn route(raw: &[u8], oversized: bool, processed: bool, settings: &Settings) -> Route {
    if processed {
        return Route::Redelivery;
    }
    let (intake, authserv_id) = (&settings.intake.address, &settings.staff.authserv_id);
    if let Some(reply) = StaffReply::read(raw, intake, authserv_id) {
        return Route::Staff(Box::new(reply));
    }
    if oversized {
        Route::TooLarge
    } else {
        Route::Applicant
    }
}
