//! Choosing the staff member for each waiting request.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use guichet::staff::assign::{assign, Assignment, Waiting};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test date")
}

fn staff(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn load(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

fn pairs(out: &[Assignment]) -> Vec<(&str, &str)> {
    out.iter()
        .map(|a| (a.request_id.as_str(), a.staff.as_str()))
        .collect()
}

#[test]
fn assignments() {
    // Deliberately out of order: assignment goes by reception date.
    let waiting = [
        Waiting {
            request_id: "DA-2024-000004",
            received_at: at("2024-11-18T10:00:00Z"),
        },
        Waiting {
            request_id: "DA-2024-000001",
            received_at: at("2024-11-15T08:00:00Z"),
        },
        Waiting {
            request_id: "DA-2024-000003",
            received_at: at("2024-11-16T09:00:00Z"),
        },
        Waiting {
            request_id: "DA-2024-000002",
            received_at: at("2024-11-16T09:00:00Z"),
        },
        Waiting {
            request_id: "DA-2024-000005",
            received_at: at("2024-11-19T07:00:00Z"),
        },
    ];
    type Case<'a> = (
        &'a [&'a str],
        &'a [(&'a str, usize)],
        usize,
        &'a [(&'a str, &'a str)],
    );
    let cases: [Case; 8] = [
        // One member, room for two: the two oldest, the rest wait.
        (
            &["a@x"],
            &[],
            2,
            &[("DA-2024-000001", "a@x"), ("DA-2024-000002", "a@x")],
        ),
        // Round-robin across the list when loads are equal.
        (
            &["a@x", "b@x", "c@x"],
            &[],
            5,
            &[
                ("DA-2024-000001", "a@x"),
                ("DA-2024-000002", "b@x"),
                ("DA-2024-000003", "c@x"),
                ("DA-2024-000004", "a@x"),
                ("DA-2024-000005", "b@x"),
            ],
        ),
        // The least loaded first; a full member gets nothing.
        (
            &["a@x", "b@x", "c@x"],
            &[("a@x", 1), ("b@x", 3), ("c@x", 0)],
            3,
            &[
                ("DA-2024-000001", "c@x"),
                ("DA-2024-000002", "a@x"),
                ("DA-2024-000003", "c@x"),
                ("DA-2024-000004", "a@x"),
                ("DA-2024-000005", "c@x"),
            ],
        ),
        // Everyone full: nothing is sent.
        (&["a@x", "b@x"], &[("a@x", 2), ("b@x", 4)], 2, &[]),
        // No staff, or no room at all.
        (&[], &[], 3, &[]),
        (&["a@x"], &[], 0, &[]),
        // Duplicates and case variants in the list count once; loads match
        // without case; blank entries are skipped.
        (
            &["A@x", "a@X", " ", "b@x"],
            &[("a@x", 1)],
            2,
            &[
                ("DA-2024-000001", "b@x"),
                ("DA-2024-000002", "A@x"),
                ("DA-2024-000003", "b@x"),
            ],
        ),
        // Loads of people no longer on staff are ignored.
        (&["b@x"], &[("gone@x", 9)], 1, &[("DA-2024-000001", "b@x")]),
    ];
    for (members, outstanding, max, want) in cases {
        let got = assign(&staff(members), &load(outstanding), max, &waiting);
        assert_eq!(
            pairs(&got),
            want.to_vec(),
            "{members:?} {outstanding:?} max {max}"
        );
        // Same inputs, same answer.
        assert_eq!(
            assign(&staff(members), &load(outstanding), max, &waiting),
            got
        );
    }
}
