//! `set`: a change to a secret's rules, and whether it widens what the
//! secret may do (DESIGN.md §1: widening needs the human's passphrase;
//! narrowing and locking do not, so the model may always narrow).

use claulock_proto::MetaChange;
use claulock_vault::{Delivery, Metadata};

/// `meta` with `change` applied.
pub(crate) fn apply(meta: &Metadata, change: &MetaChange) -> Metadata {
    let mut m = meta.clone();
    edit(&mut m.allow_hosts, &change.add_hosts, &change.remove_hosts);
    edit(
        &mut m.allow_programs,
        &change.add_programs,
        &change.remove_programs,
    );
    if let Some(e) = change.expires {
        m.expires = e;
    }
    if let Some(d) = change.deliver {
        m.deliver = Some(match d {
            claulock_proto::Delivery::Proxy => Delivery::Proxy,
            claulock_proto::Delivery::Env => Delivery::Env,
        });
    }
    if let Some(b) = change.allow_in_body {
        m.allow_in_body = b;
    }
    if let Some(b) = change.allow_output_files {
        m.allow_output_files = b;
    }
    m
}

fn edit(list: &mut Vec<String>, add: &[String], remove: &[String]) {
    list.retain(|x| !remove.contains(x));
    for a in add {
        if !list.contains(a) {
            list.push(a.clone());
        }
    }
}

/// What `after` allows that `before` did not, one phrase each (empty: the
/// change only narrows or changes nothing).
pub(crate) fn widenings(before: &Metadata, after: &Metadata) -> Vec<String> {
    let mut out = Vec::new();
    // An empty allowlist allows any: emptying one widens, and adding to a
    // non-empty one widens.
    let list = |what: &str, b: &[String], a: &[String], out: &mut Vec<String>| {
        if b.is_empty() {
            return;
        }
        if a.is_empty() {
            out.push(format!("any {what}"));
        } else {
            let new: Vec<&str> = a
                .iter()
                .filter(|x| !b.contains(x))
                .map(String::as_str)
                .collect();
            if !new.is_empty() {
                out.push(format!("{what} {}", new.join(", ")));
            }
        }
    };
    list("host", &before.allow_hosts, &after.allow_hosts, &mut out);
    list(
        "program",
        &before.allow_programs,
        &after.allow_programs,
        &mut out,
    );
    match (before.expires, after.expires) {
        (Some(_), None) => out.push("no expiry".into()),
        (Some(b), Some(a)) if a > b => out.push("a later expiry".into()),
        _ => {}
    }
    if before.delivery() == Delivery::Proxy && after.delivery() == Delivery::Env {
        out.push("env delivery (the value enters the program)".into());
    }
    if after.allow_in_body && !before.allow_in_body {
        out.push("the value in request bodies".into());
    }
    if after.allow_output_files && !before.allow_output_files {
        out.push("output files".into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(hosts: &[&str], programs: &[&str], expires: Option<i64>) -> Metadata {
        Metadata {
            allow_hosts: hosts.iter().map(|s| (*s).to_owned()).collect(),
            allow_programs: programs.iter().map(|s| (*s).to_owned()).collect(),
            expires,
            ..Metadata::default()
        }
    }

    fn change() -> MetaChange {
        MetaChange::default()
    }

    #[test]
    fn narrowing_is_free_and_widening_is_named() {
        let before = meta(&["api.example.com", "x.example.com"], &["curl"], Some(100));
        let narrower = MetaChange {
            remove_hosts: vec!["x.example.com".into()],
            expires: Some(Some(50)),
            ..change()
        };
        assert!(widenings(&before, &apply(&before, &narrower)).is_empty());

        let wider = MetaChange {
            add_hosts: vec!["evil.example".into()],
            remove_programs: vec!["curl".into()],
            expires: Some(None),
            deliver: Some(claulock_proto::Delivery::Env),
            allow_output_files: Some(true),
            ..change()
        };
        let w = widenings(&before, &apply(&before, &wider));
        assert_eq!(
            w,
            [
                "host evil.example",
                "any program",
                "no expiry",
                "env delivery (the value enters the program)",
                "output files"
            ]
        );
        // From "any host", naming hosts narrows.
        let any = meta(&[], &[], None);
        let named = MetaChange {
            add_hosts: vec!["api.example.com".into()],
            ..change()
        };
        assert!(widenings(&any, &apply(&any, &named)).is_empty());
    }
}
