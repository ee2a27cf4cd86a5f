//! What staff sign-off keeps, beside the requests:
//!
//! - `tokens`: SHA-256 of a token → [`TokenRecord`] (the token itself is
//!   never stored: a copy of the database cannot forge a decision);
//! - `approvals`: request id → the [`Approval`] request out with a staff
//!   member and not yet decided (one per request);
//! - `accounts`: username → [`Account`], with only an argon2 hash of the
//!   temporary password;
//! - `meta` key `last_digest`: the day the staff digest last went out.
//!
//! A decision and everything it causes go in through [`Store::commit_signoff`],
//! one transaction with the reply's processed mark, so a re-read reply
//! changes nothing.

use anyhow::{bail, Result};
use chrono::{DateTime, NaiveDate, Utc};
use sled::Transactional;

use super::{
    abort, encode_requests, from_json, mark_processed, put_request, to_json, Processed, Store,
    TxResult,
};
use crate::domain::Outgoing;
pub use crate::domain::{Account, Approval, Deactivation, Handoff};
use crate::domain::{Request, TokenRecord};

const LAST_DIGEST: &str = "last_digest";

/// Every effect of a sign-off event (a staff reply, a round of approval
/// requests, a digest), committed together.
#[derive(Debug, Clone, Default)]
pub struct SignoffCommit {
    /// The staff reply's fingerprint; empty when no message is behind it.
    pub fingerprint: String,
    pub processed: Option<Processed>,
    pub requests: Vec<Request>,
    pub outgoing: Vec<Outgoing>,
    /// New or updated token records.
    pub tokens: Vec<TokenRecord>,
    /// Approval requests sent (replacing any earlier one for the request).
    pub opened: Vec<Approval>,
    /// Request ids whose approval request is settled or stale.
    pub closed: Vec<String>,
    /// New accounts; a username already taken aborts the whole commit.
    pub accounts: Vec<Account>,
    pub digest_sent: Option<NaiveDate>,
    /// Our message's Message-ID → the requests it is about: a correction
    /// a staff member sent back, which the applicant's answer resumes.
    pub answer_index: Vec<(String, Vec<String>)>,
}

impl Store {
    /// Commits a sign-off event atomically, then flushes. Returns false (and
    /// changes nothing) when its fingerprint was already handled.
    pub fn commit_signoff(&self, c: &SignoffCommit) -> Result<bool> {
        self.naming_blobs(|written| self.commit_signoff_naming(c, written))
    }

    /// Writes the blobs of `c` (their names into `written`), then commits.
    fn commit_signoff_naming(
        &self,
        c: &SignoffCommit,
        written: &mut Vec<String>,
    ) -> Result<super::Transaction<bool>> {
        let requests = encode_requests(&c.requests)?;
        let processed = c.processed.as_ref().map(to_json).transpose()?;
        let outgoing = self.enqueue(&c.outgoing, written)?;
        let tokens: Vec<(&str, Vec<u8>)> = c
            .tokens
            .iter()
            .map(|t| Ok((t.hash.as_str(), to_json(t)?)))
            .collect::<Result<_>>()?;
        let opened: Vec<(&str, Vec<u8>)> = c
            .opened
            .iter()
            .map(|a| Ok((a.request_id.as_str(), to_json(a)?)))
            .collect::<Result<_>>()?;
        let accounts: Vec<(&str, Vec<u8>)> = c
            .accounts
            .iter()
            .map(|a| Ok((a.username.as_str(), to_json(a)?)))
            .collect::<Result<_>>()?;
        let answers: Vec<(&str, Vec<u8>)> = c
            .answer_index
            .iter()
            .map(|(id, reqs)| Ok((id.as_str(), to_json(reqs)?)))
            .collect::<Result<_>>()?;
        let trees = (
            &self.requests,
            &self.request_keys,
            &self.processed,
            &self.outbox,
            &self.tokens,
            &self.approvals,
            &self.accounts,
            &self.meta,
            &self.answers,
        );
        let result = trees.transaction(
            |(
                req_tree,
                keys,
                done,
                outbox,
                token_tree,
                approval_tree,
                account_tree,
                meta,
                answer_tree,
            )|
             -> TxResult<bool> {
                if !c.fingerprint.is_empty() && done.get(c.fingerprint.as_bytes())?.is_some() {
                    return Ok(false);
                }
                for (username, value) in &accounts {
                    if account_tree.get(username.as_bytes())?.is_some() {
                        return Err(abort(anyhow::anyhow!("username {username} already taken")));
                    }
                    account_tree.insert(username.as_bytes(), value.as_slice())?;
                }
                for encoded in &requests {
                    put_request(req_tree, keys, encoded)?;
                }
                for (seq, value) in &outgoing {
                    outbox.insert(&seq.to_be_bytes(), value.as_slice())?;
                }
                for (hash, value) in &tokens {
                    token_tree.insert(hash.as_bytes(), value.as_slice())?;
                }
                for id in &c.closed {
                    approval_tree.remove(id.as_bytes())?;
                }
                for (id, value) in &opened {
                    approval_tree.insert(id.as_bytes(), value.as_slice())?;
                }
                for (id, value) in &answers {
                    answer_tree.insert(id.as_bytes(), value.as_slice())?;
                }
                if let Some(day) = c.digest_sent {
                    meta.insert(LAST_DIGEST, day.to_string().as_bytes())?;
                }
                mark_processed(done, &c.fingerprint, processed.as_deref())?;
                Ok(true)
            },
        );
        Ok(result)
    }

    /// The record of the token with this hash.
    pub fn token(&self, hash: &str) -> Result<Option<TokenRecord>> {
        self.tokens
            .get(hash.as_bytes())?
            .map(|v| from_json(&v))
            .transpose()
    }

    /// Approval requests out with staff, by request id.
    pub fn approvals(&self) -> Result<Vec<Approval>> {
        self.approvals
            .iter()
            .map(|item| from_json(&item?.1))
            .collect()
    }

    /// Every account, by username.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        self.accounts
            .iter()
            .map(|item| from_json(&item?.1))
            .collect()
    }

    pub fn account(&self, username: &str) -> Result<Option<Account>> {
        self.accounts
            .get(username.as_bytes())?
            .map(|v| from_json(&v))
            .transpose()
    }

    pub fn username_taken(&self, username: &str) -> Result<bool> {
        Ok(self.accounts.contains_key(username.as_bytes())?)
    }

    /// The day the staff digest last went out.
    pub fn last_digest(&self) -> Result<Option<NaiveDate>> {
        Ok(self
            .meta
            .get(LAST_DIGEST)?
            .and_then(|v| std::str::from_utf8(&v).ok()?.parse().ok()))
    }

    /// Records what the hand-off command did with an account.
    pub fn record_handoff(&self, username: &str, handoff: Handoff) -> Result<()> {
        self.update_account(username, |a| {
            a.handoff = Some(handoff.clone());
            Ok(())
        })
        .map(drop)
    }

    /// Closes an account (credentials used by someone else…). An unknown or
    /// already closed account is an error for the operator.
    pub fn deactivate(&self, username: &str, reason: &str, at: DateTime<Utc>) -> Result<Account> {
        self.update_account(username, |a| {
            if !a.active {
                bail!("account {username} is already deactivated");
            }
            a.active = false;
            a.deactivated = Some(Deactivation {
                at,
                reason: reason.to_string(),
            });
            Ok(())
        })
    }

    fn update_account(
        &self,
        username: &str,
        change: impl Fn(&mut Account) -> Result<()>,
    ) -> Result<Account> {
        let Some(mut account) = self.account(username)? else {
            bail!("no account {username}");
        };
        change(&mut account)?;
        self.accounts
            .insert(username.as_bytes(), to_json(&account)?)?;
        self.db.flush()?;
        Ok(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Employer, State, User};
    use chrono::TimeZone;

    fn request(state: State) -> Request {
        Request {
            id: "DA-2024-000001".into(),
            received_at: Utc.with_ymd_and_hms(2024, 11, 18, 8, 0, 0).unwrap(),
            state,
            reasons: vec![],
            service: Some("FACT".into()),
            message_id: "<m@x>".into(),
            attachment: "f.pdf".into(),
            sender: "a@b.example".into(),
            employer: Employer::default(),
            user: User::default(),
            fields: Default::default(),
            history: vec![],
        }
    }

    fn account(username: &str) -> Account {
        Account {
            username: username.into(),
            request_id: "DA-2024-000001".into(),
            service: None,
            employer: Employer::default(),
            user: User::default(),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
            created_at: Utc::now(),
            approved_by: "agent@organisme.example".into(),
            active: true,
            deactivated: None,
            handoff: None,
        }
    }

    fn decision(fingerprint: &str, username: &str) -> SignoffCommit {
        SignoffCommit {
            fingerprint: fingerprint.into(),
            processed: Some(Processed {
                message_id: format!("<{fingerprint}@x>"),
                at: Utc::now(),
                outcome: None,
                requests: vec!["DA-2024-000001".into()],
            }),
            requests: vec![request(State::Approved)],
            accounts: vec![account(username)],
            closed: vec!["DA-2024-000001".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_decision_commits_once_and_a_taken_username_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        store
            .commit_signoff(&SignoffCommit {
                requests: vec![request(State::Queued)],
                ..Default::default()
            })
            .unwrap();
        assert!(store.commit_signoff(&decision("fp1", "vmartel")).unwrap());
        assert!(!store.commit_signoff(&decision("fp1", "vmartel")).unwrap());
        assert_eq!(store.accounts().unwrap().len(), 1);

        // Another reply would reuse the username: the whole commit aborts,
        // its processed mark included.
        let mut clash = decision("fp2", "vmartel");
        clash.requests = vec![request(State::Refused)];
        assert!(store.commit_signoff(&clash).is_err());
        assert!(!store.was_processed("fp2").unwrap());
        let r = store.request("DA-2024-000001").unwrap().unwrap();
        assert_eq!(r.state, State::Approved);
    }

    #[test]
    fn the_digest_day_and_hand_off_are_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.last_digest().unwrap(), None);
        let day = NaiveDate::from_ymd_opt(2024, 11, 18);
        store
            .commit_signoff(&SignoffCommit {
                digest_sent: day,
                accounts: vec![account("vmartel")],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(store.last_digest().unwrap(), day);
        let handoff = Handoff {
            at: Utc::now(),
            ok: true,
            detail: "exit status: 0".into(),
        };
        store.record_handoff("vmartel", handoff.clone()).unwrap();
        assert_eq!(
            store.account("vmartel").unwrap().unwrap().handoff,
            Some(handoff)
        );
        assert!(store
            .record_handoff(
                "nobody",
                Handoff {
                    at: Utc::now(),
                    ok: false,
                    detail: String::new()
                }
            )
            .is_err());
    }
}
