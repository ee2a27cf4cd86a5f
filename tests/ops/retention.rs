//! Retention: a request's personal data, PDF and crops go N days after its
//! final decision; the anonymous request, a history entry and audit
//! records stay.

use chrono::{Duration, Utc};
use guichet::domain::{Crop, HistoryEntry, Request, State};
use guichet::store::{Commit, Document, Store};
use sha2::{Digest, Sha256};

fn request(
    id: &str,
    state: State,
    received_days_ago: i64,
    decided_days_ago: Option<i64>,
) -> Request {
    let now = Utc::now();
    let mut history = vec![HistoryEntry {
        at: now - Duration::days(received_days_ago),
        state: State::Queued,
        note: "received".into(),
    }];
    if let Some(d) = decided_days_ago {
        history.push(HistoryEntry {
            at: now - Duration::days(d),
            state,
            note: "decided".into(),
        });
    }
    Request {
        id: id.into(),
        received_at: now - Duration::days(received_days_ago),
        state,
        reasons: vec![],
        service: Some("FACT".into()),
        message_id: format!("<{id}@x>"),
        attachment: "f.pdf".into(),
        sender: "a@b.example".into(),
        employer: Default::default(),
        user: Default::default(),
        fields: Default::default(),
        history,
    }
}

fn document(id: &str) -> Document {
    Document {
        pdf: format!("%PDF-1.7 {id}").into_bytes(),
        crops: vec![
            Crop {
                zone: "employer.signature".into(),
                png: vec![1, 2, 3],
            },
            Crop {
                zone: "user.signature".into(),
                png: vec![4, 5],
            },
        ],
    }
}

#[test]
fn documents_go_n_days_after_the_final_decision_and_an_audit_stays() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_waiting(dir.path(), std::time::Duration::from_secs(10)).unwrap();
    let requests = [
        request("DA-2024-000001", State::Approved, 120, Some(100)), // decided 100 days ago: purged
        request("DA-2024-000002", State::Refused, 120, Some(10)),   // decided recently: kept
        request("DA-2024-000003", State::Queued, 200, None),        // still pending: kept
        request("DA-2024-000004", State::Rejected, 95, None),       // rejected on arrival: purged
        request("DA-2024-000005", State::Approved, 91, Some(89)),   // one day short: kept
    ];
    for (i, r) in requests.iter().enumerate() {
        store
            .commit(&Commit {
                fingerprint: format!("m{i}"),
                requests: vec![r.clone()],
                documents: vec![(r.id.clone(), document(&r.id))],
                ..Default::default()
            })
            .unwrap();
    }
    assert_eq!(store.documents_held().unwrap(), 5);

    let now = Utc::now();
    let done = store.retention(now, 90).unwrap();
    let ids: Vec<&str> = done.erased.iter().map(String::as_str).collect();
    assert_eq!(done.documents, 2);
    assert_eq!(done.waiting, 1, "the queued request");
    assert_eq!(
        ids,
        ["DA-2024-000001", "DA-2024-000004"],
        "oldest reception first"
    );

    for gone in ["DA-2024-000001", "DA-2024-000004"] {
        assert_eq!(
            store.document(gone).unwrap(),
            None,
            "{gone}: PDF and crops purged"
        );
        let r = store
            .request(gone)
            .unwrap()
            .expect("the request itself stays");
        let last = r.history.last().unwrap();
        assert!(
            last.note
                .contains("personal data erased (retention after 90 days)"),
            "{last:?}"
        );
        assert_eq!(last.state, r.state);
    }
    for kept in ["DA-2024-000002", "DA-2024-000003", "DA-2024-000005"] {
        assert_eq!(
            store.document(kept).unwrap(),
            Some(document(kept)),
            "{kept}"
        );
    }
    assert_eq!(store.documents_held().unwrap(), 3);

    let audit = store.purges().unwrap();
    assert_eq!(audit.len(), 2);
    let approved = audit
        .iter()
        .find(|p| p.request == "DA-2024-000001")
        .unwrap();
    let pdf = document("DA-2024-000001").pdf;
    assert_eq!(approved.pdf_bytes, pdf.len() as u64);
    assert_eq!(approved.pdf_sha256, hex::encode(Sha256::digest(&pdf)));
    assert_eq!(approved.crops, ["employer.signature", "user.signature"]);
    assert_eq!(approved.state, State::Approved);
    assert!(
        (now - approved.decided_at - Duration::days(100))
            .num_seconds()
            .abs()
            < 60
    );

    // Once a day: the second run the same day does nothing, even with a
    // shorter period; the next day it runs again.
    assert!(store.retention_if_due(now, 90).unwrap().is_some());
    assert!(store.retention_if_due(now, 1).unwrap().is_none());
    let tomorrow = store
        .retention_if_due(now + Duration::days(1), 1)
        .unwrap()
        .unwrap();
    let ids: Vec<&str> = tomorrow.erased.iter().map(String::as_str).collect();
    assert_eq!(
        ids,
        ["DA-2024-000002", "DA-2024-000005"],
        "decided 10 and 89 days ago, now past 1 day"
    );
    assert_eq!(
        store.documents_held().unwrap(),
        1,
        "only the pending request keeps its PDF"
    );
}
