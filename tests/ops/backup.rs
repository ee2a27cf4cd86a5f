//! Backup and restore of the whole store, and the refusal of a damaged file.

use chrono::{TimeZone, Utc};
use guichet::domain::{Crop, Request, State};
use guichet::outbox::Outgoing;
use guichet::store::{Commit, Document, Processed, Store};

fn request(id: &str, day: u32) -> Request {
    Request {
        id: id.into(),
        received_at: Utc.with_ymd_and_hms(2024, 11, day, 8, 0, 0).unwrap(),
        state: State::Queued,
        reasons: vec!["illegible:user.birth_date".parse().unwrap()],
        service: Some("PAIE".into()),
        message_id: format!("<{id}@x>"),
        attachment: "f.pdf".into(),
        sender: "a@b.example".into(),
        employer: Default::default(),
        user: Default::default(),
        fields: Default::default(),
        history: vec![],
    }
}

fn commit(store: &Store, n: u32) {
    let id = format!("DA-2024-{n:06}");
    store
        .commit(&Commit {
            fingerprint: format!("fp{n}"),
            processed: Some(Processed {
                message_id: format!("<m{n}@x>"),
                at: Utc::now(),
                outcome: None,
                requests: vec![id.clone()],
            }),
            requests: vec![request(&id, n)],
            documents: vec![(
                id.clone(),
                Document {
                    pdf: vec![n as u8; 5000],
                    crops: vec![Crop {
                        zone: "user.signature".into(),
                        png: vec![0, n as u8],
                    }],
                },
            )],
            outgoing: vec![Outgoing {
                id: format!("r{n}"),
                envelope_from: "acces@organisme.example".into(),
                to: vec!["a@b.example".into()],
                raw: b"Subject: x\r\n\r\nbody".to_vec(),
            }],
            ..Default::default()
        })
        .unwrap();
}

fn exported(store: &Store) -> String {
    let mut out = Vec::new();
    store.export(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn a_backup_restores_every_tree_and_a_damaged_one_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open_waiting(&dir.path().join("db"), std::time::Duration::from_secs(10)).unwrap();
    for n in 1..=3 {
        commit(&store, n);
    }
    assert_eq!(store.next_request_id(2024).unwrap(), "DA-2024-000001");
    let before = exported(&store);
    let status_before = serde_json::to_value(store.status().unwrap()).unwrap();
    let file = dir.path().join("store.bak");
    let entries = store.backup(&file).unwrap();
    assert!(
        entries >= 3 * 5,
        "requests, keys, processed, outbox, documents: {entries}"
    );
    assert_eq!(before.lines().count(), 3);

    // Life goes on after the backup…
    commit(&store, 4);
    store
        .sent(
            store
                .next_due_outgoing(None, Utc::now())
                .unwrap()
                .unwrap()
                .0,
        )
        .unwrap();
    assert_ne!(exported(&store), before);

    // …a damaged file is refused whole, the store untouched.
    let good = std::fs::read(&file).unwrap();
    let mut bad = good.clone();
    bad[good.len() / 2] ^= 0x55;
    let damaged = dir.path().join("damaged.bak");
    std::fs::write(&damaged, &bad).unwrap();
    let err = store.restore(&damaged).unwrap_err();
    assert!(err.to_string().contains("checksum"), "{err}");
    std::fs::write(&damaged, &good[..good.len() - 10]).unwrap();
    assert!(store.restore(&damaged).is_err());
    assert_eq!(exported(&store).lines().count(), 4);

    // The good one brings back exactly what was saved.
    store.restore(&file).unwrap();
    assert_eq!(exported(&store), before);
    assert_eq!(
        serde_json::to_value(store.status().unwrap()).unwrap(),
        status_before
    );
    assert!(!store.was_processed("fp4").unwrap());
    assert!(store.was_processed("fp3").unwrap());
    assert_eq!(store.document("DA-2024-000004").unwrap(), None);
    assert_eq!(
        store.document("DA-2024-000002").unwrap().unwrap().pdf,
        vec![2u8; 5000]
    );
    assert_eq!(store.status().unwrap().outbox_pending, 3);
    // Counters come back too: numbers are never reused.
    assert_eq!(store.next_request_id(2024).unwrap(), "DA-2024-000002");
    drop(store);

    // Into a fresh store as well (a new machine).
    let fresh =
        Store::open_waiting(&dir.path().join("db2"), std::time::Duration::from_secs(10)).unwrap();
    fresh.restore(&file).unwrap();
    assert_eq!(exported(&fresh), before);
}
