//! `claulock source`: the team's OpenBao or Vault servers that values are
//! read from (add, list, rm, test). A token is read like a value (from the
//! terminal without echo, or stdin), sealed in the vault by the agent, and
//! never printed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use claulock_agent::Home;
use claulock_proto::{Reply, Request, SecretBytes, SourceSpec, unexpected};

use crate::commands::{check_value, print, say};
use crate::input;

#[derive(clap::Subcommand)]
pub(crate) enum Command {
    /// Add a source; its token (or with --approle, its AppRole secret id)
    /// is read from the terminal (no echo) or stdin, checked with the
    /// server, and sealed in the vault.
    Add {
        /// Its name (SOURCE in `add --from SOURCE:PATH#FIELD`).
        name: String,
        /// An OpenBao server: https://HOST:PORT (http only on loopback).
        #[arg(
            long,
            value_name = "URL",
            conflicts_with = "vault",
            required_unless_present = "vault"
        )]
        openbao: Option<String>,
        /// A HashiCorp Vault server: https://HOST:PORT.
        #[arg(long, value_name = "URL")]
        vault: Option<String>,
        /// The namespace to read in.
        #[arg(long, value_name = "NS")]
        namespace: Option<String>,
        /// Root certificates (PEM) to trust for this server; the file is
        /// read now and sealed with the source.
        #[arg(long, value_name = "PEM")]
        ca_file: Option<PathBuf>,
        /// Log in with AppRole, this role id (the secret id is read like a
        /// token); the agent logs in again as its tokens end.
        #[arg(long, value_name = "ROLE_ID")]
        approle: Option<String>,
    },
    /// List the sources (never their tokens).
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a source and its token (no secret may read from it).
    Rm {
        /// The source's name.
        name: String,
    },
    /// Ask the server whether the source's token is accepted, and what it
    /// may do (never prints the token).
    Test {
        /// The source's name.
        name: String,
    },
}

pub(crate) fn run(command: Command) -> anyhow::Result<ExitCode> {
    let home = Home::from_env()?;
    let client = home.client();
    match command {
        Command::Add {
            name,
            openbao,
            vault,
            namespace,
            ca_file,
            approle,
        } => {
            let (kind, url) = match (openbao, vault) {
                (Some(u), _) => ("openbao", u),
                (None, Some(u)) => ("vault", u),
                (None, None) => anyhow::bail!("give --openbao URL or --vault URL"),
            };
            let ca_pem = ca_file
                .map(|p| {
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read the CA file {}", p.display()))
                })
                .transpose()?;
            client.status()?;
            let what = if approle.is_some() {
                "AppRole secret id"
            } else {
                "Token"
            };
            let token = input::secret(&format!("{what} for {name}: "), false)?;
            check_value(&format!("SOURCE_{name}"), &token)?;
            client.done(&Request::SourceAdd {
                name: name.clone(),
                spec: SourceSpec {
                    kind: kind.into(),
                    url: url.clone(),
                    namespace,
                    ca_pem,
                    approle_role_id: approle.clone(),
                },
                token: SecretBytes::from(&token[..]),
            })?;
            let how = if approle.is_some() {
                "its AppRole login"
            } else {
                "its token"
            };
            say(&format!(
                "added source {name} ({url}); the server accepted {how}. Next: \
                 `claulock add NAME --from {name}:PATH#FIELD`"
            ))
        }
        Command::List { json } => {
            let list = match client.request(&Request::SourceList)? {
                Reply::Sources(l) => l,
                other => return Err(unexpected(&other).into()),
            };
            if json {
                return say(&serde_json::to_string_pretty(&list)?);
            }
            let mut out = String::new();
            for s in &list {
                out.push_str(&format!(
                    "{}\t{}\t{}\tauth={}\tnamespace={}\tsecrets={}\n",
                    s.name,
                    s.kind,
                    s.url,
                    s.auth,
                    s.namespace.as_deref().unwrap_or("-"),
                    s.secrets.join(",")
                ));
            }
            print(&out)
        }
        Command::Rm { name } => {
            client.done(&Request::SourceRemove { name: name.clone() })?;
            say(&format!("removed source {name} and its token"))
        }
        Command::Test { name } => {
            let check = match client.request(&Request::SourceTest { name: name.clone() })? {
                Reply::TokenChecked(c) => c,
                other => return Err(unexpected(&other).into()),
            };
            let ttl = if check.ttl_secs == 0 {
                "does not expire".to_owned()
            } else {
                format!(
                    "expires in {}",
                    humantime::format_duration(std::time::Duration::from_secs(check.ttl_secs))
                )
            };
            say(&format!(
                "source {name}: the server accepts its token ({}; policies {}; {ttl}{})",
                if check.display_name.is_empty() {
                    "no display name"
                } else {
                    &check.display_name
                },
                check.policies.join(","),
                if check.renewable { "; renewable" } else { "" }
            ))
        }
    }
}
