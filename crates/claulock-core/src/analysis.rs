//! Command analysis: for each placeholder, the program it flows into and
//! who consumes that program's output; for the whole command line, every
//! destination it names and every construct that redirects traffic.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::destination::{Target, scp_host, url_in, url_target};
use crate::grammar::{self, Placeholder};
use crate::programs::{self, DANGEROUS_ENV, Resolution};
use crate::shell::{self, Command, Context, DYNAMIC_MARK, PLACEHOLDER_MARK, Role, Script, Word};

/// The analysed command line.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Analysis {
    /// One entry per placeholder occurrence, in order.
    pub uses: Vec<Use>,
    /// Every destination the command line names, in order.
    pub destinations: Vec<Destination>,
    /// Constructs that change where traffic goes (proxies, `--next`, …).
    pub hazards: Vec<Hazard>,
    #[serde(skip)]
    pub(crate) script: Script,
    #[serde(skip)]
    pub(crate) placeholders: Vec<Placeholder>,
}

/// One placeholder occurrence and where its value goes.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Use {
    /// The secret's name.
    pub secret: String,
    /// Byte span of the placeholder in the command.
    pub span: Range<usize>,
    /// Its quoting context.
    pub context: Context,
    /// How the value reaches the command.
    pub role: Role,
    /// The program that receives the value (wrappers seen through), when it
    /// can be known statically.
    pub program: Option<String>,
    /// Wrappers between the shell and the program (`sudo`, `env`, …).
    pub wrappers: Vec<String>,
    /// Programs that consume the receiving command's output: later stages of
    /// its pipeline and commands whose words substitute it.
    pub consumers: Vec<String>,
    /// The compound keyword that owns the value (`for`, `case`, `[[`, …).
    pub keyword: Option<String>,
    /// The command is only assignments: the value lands in a shell variable.
    pub bare_assignment: bool,
    /// The value is passed to an interpreter as inline code.
    pub inline_code: bool,
    /// The program's name is a function the command line defines.
    pub shadowed_by_function: bool,
    /// Files the receiving command or a consumer of its output writes to.
    pub output_files: Vec<String>,
}

/// A destination named by the command line.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Destination {
    /// The word it was found in, placeholders shown as `{{…}}` and
    /// expansions as `$…`.
    pub text: String,
    /// The host it resolves to, or why it cannot be known.
    pub target: Target,
}

/// A construct that changes where traffic goes.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Hazard {
    /// What it is: `proxy`, `next`, `resolve`, `config-file`, `env-override`,
    /// `git-config`, `socket`, `trusted-redirect`, `variables`.
    pub kind: &'static str,
    /// The word it was found in.
    pub text: String,
}

/// Facts about the environment that only the caller can look up.
#[derive(Clone, Debug, Default)]
pub struct Environment {
    /// Git remote names of the working directory and their URLs.
    pub git_remotes: BTreeMap<String, String>,
}

/// A command line that cannot be analysed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnalysisError {
    /// A malformed placeholder.
    Grammar(grammar::GrammarError),
    /// Shell syntax this analysis does not follow, or a placeholder in a
    /// context that cannot be rewritten safely.
    Syntax(shell::SyntaxError),
}

impl std::fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnalysisError::Grammar(e) => e.fmt(f),
            AnalysisError::Syntax(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for AnalysisError {}

/// Analyses a shell command line.
///
/// # Errors
///
/// See [`AnalysisError`]. A command line with no placeholder is still
/// lexed, so a syntax error is reported for it too.
pub fn analyze(command: &str, env: &Environment) -> Result<Analysis, AnalysisError> {
    let placeholders = grammar::placeholders(command).map_err(AnalysisError::Grammar)?;
    let script = shell::lex(command, &placeholders).map_err(AnalysisError::Syntax)?;
    // Words as rendered text: placeholders and expansions are marks, so a
    // wrapper's option values may hold them while the program name may not.
    let texts: Vec<Vec<Option<String>>> = script
        .commands
        .iter()
        .map(|c| c.words.iter().map(|w| Some(w.rendered())).collect())
        .collect();
    let resolutions: Vec<Resolution> = texts
        .iter()
        .map(|t| {
            let mut r = programs::resolve(t);
            programs::finish_env_owners(&mut r);
            r
        })
        .collect();

    let mut uses = Vec::new();
    for (site_index, site) in script.sites.iter().enumerate() {
        let ph = &placeholders[site.placeholder];
        let cmd = &script.commands[site.command];
        let res = &resolutions[site.command];
        let word_index = cmd
            .words
            .iter()
            .position(|w| w.sites().any(|s| s == site_index));
        let program = match (site.role, word_index, res.program_index) {
            (Role::Program, _, _) | (_, _, None) => None,
            // A wrapper's own option (`sudo -u {{X}} …`) goes to the wrapper.
            (Role::Argument, Some(i), Some(pi)) if i < pi => res.owner.get(i).cloned().flatten(),
            _ => res.program().map(str::to_owned),
        };
        let inline_code = program.as_deref().is_some_and(|p| {
            programs::CODE_BUILTINS.contains(&p)
                || programs::interpreter_flags(p).is_some_and(|flags| {
                    site.role == Role::Stdin
                        || res.program_index.is_some_and(|pi| {
                            programs::runs_inline_code(flags, &texts[site.command][pi + 1..])
                        })
                })
        });
        uses.push(Use {
            secret: ph.name.clone(),
            span: ph.span.clone(),
            context: site.context,
            role: site.role,
            shadowed_by_function: program
                .as_deref()
                .is_some_and(|p| script.functions.iter().any(|f| f == p)),
            program,
            wrappers: res.wrappers.clone(),
            consumers: consumers(&script, site.command)
                .into_iter()
                .map(|i| program_label(&resolutions[i]))
                .collect(),
            output_files: std::iter::once(site.command)
                .chain(consumers(&script, site.command))
                .flat_map(|i| output_files(&script.commands[i], &resolutions[i], &texts[i]))
                .collect(),
            keyword: cmd.keyword.map(str::to_owned),
            bare_assignment: cmd.words.is_empty() && cmd.keyword.is_none(),
            inline_code,
        });
    }

    let mut found = Found::default();
    for (i, cmd) in script.commands.iter().enumerate() {
        found.scan_command(cmd, &resolutions[i], &texts[i], env);
    }
    Ok(Analysis {
        uses,
        destinations: found.destinations,
        hazards: found.hazards,
        script,
        placeholders,
    })
}

/// Commands that may read the output of command `start`: downstream
/// stages of its pipeline, enclosing commands, and commands substituted
/// into it (`>(…)` reads what the command writes), transitively.
fn consumers(script: &Script, start: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut frontier = vec![start];
    let mut seen = vec![false; script.commands.len()];
    while let Some(c) = frontier.pop() {
        if std::mem::replace(&mut seen[c], true) {
            continue;
        }
        for (i, other) in script.commands.iter().enumerate() {
            if other.pipe_from == Some(c) || other.enclosing == Some(c) {
                frontier.push(i);
                out.push(i);
            }
        }
        if let Some(e) = script.commands[c].enclosing {
            frontier.push(e);
            out.push(e);
        }
    }
    out
}

/// Files that command `c` writes its output to (redirections, `tee`,
/// curl's and wget's output options), as written. `/dev/null` and fd
/// duplications are not files.
fn output_files(cmd: &Command, res: &Resolution, texts: &[Option<String>]) -> Vec<String> {
    const DEVICES: &[&str] = &["/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "-"];
    let mut files = Vec::new();
    for r in &cmd.redirects {
        let target = r.target.rendered();
        let writes = matches!(r.op, ">" | ">>" | ">|" | "&>" | "&>>" | "<>")
            || (r.op == ">&" && !target.bytes().all(|b| b.is_ascii_digit()) && target != "-");
        if writes && !DEVICES.contains(&target.as_str()) {
            files.push(display_marks(&target));
        }
    }
    let (Some(program), Some(pi)) = (res.program(), res.program_index) else {
        return files;
    };
    let args: Vec<&str> = texts[pi + 1..]
        .iter()
        .map(|t| t.as_deref().unwrap_or(""))
        .collect();
    let value_of = |names: &[&str]| -> Vec<String> {
        let mut out = Vec::new();
        for (i, a) in args.iter().enumerate() {
            for n in names {
                if a == n {
                    out.push(args.get(i + 1).copied().unwrap_or("").to_owned());
                } else if let Some(v) = a.strip_prefix(&format!("{n}=")) {
                    out.push(v.to_owned());
                } else if n.len() == 2 && a.len() > 2 && a.starts_with('-') && !a.starts_with("--")
                {
                    // A cluster: `-sD FILE` (the letter last) or `-Dfile`.
                    let letter = &n[1..];
                    if let Some(at) = a[1..].find(letter) {
                        let rest = &a[1 + at + 1..];
                        if rest.is_empty() {
                            out.push(args.get(i + 1).copied().unwrap_or("").to_owned());
                        } else if at == 0 {
                            out.push(rest.to_owned());
                        }
                    }
                }
            }
        }
        out
    };
    match program {
        "tee" => files.extend(
            args.iter()
                .filter(|a| !a.starts_with('-'))
                .map(|a| display_marks(a)),
        ),
        "curl" => {
            let named = value_of(&[
                "-o",
                "--output",
                "-D",
                "--dump-header",
                "--trace",
                "--trace-ascii",
                "--stderr",
                "-c",
                "--cookie-jar",
                "--etag-save",
                "--hsts",
                "--alt-svc",
                "--output-dir",
            ]);
            files.extend(
                named
                    .into_iter()
                    .filter(|f| !DEVICES.contains(&f.as_str()))
                    .map(|f| display_marks(&f)),
            );
            // `-O` alone or in a cluster of value-less flags (`-sLO`), not
            // the `O` inside `-XPOST`.
            let flag_cluster = |a: &str| {
                a.len() > 2
                    && a.starts_with('-')
                    && !a.starts_with("--")
                    && a[1..].bytes().all(|b| b"sSLfikvIOJZNqg#".contains(&b))
                    && a.contains('O')
            };
            if args.iter().any(|a| {
                matches!(
                    *a,
                    "-O" | "--remote-name" | "--remote-name-all" | "-J" | "--remote-header-name"
                ) || flag_cluster(a)
            }) {
                files.push("(remote file name)".into());
            }
        }
        "wget" | "wget2" => {
            let doc = value_of(&["-O", "--output-document"]);
            let to_stdout = doc.iter().any(|d| d == "-" || d == "/dev/null")
                || args
                    .iter()
                    .any(|a| a.starts_with('-') && !a.starts_with("--") && a.ends_with("O-"));
            if !to_stdout {
                files.push(doc.first().map_or_else(
                    || "(file named after the URL)".to_owned(),
                    |d| display_marks(d),
                ));
            }
        }
        _ => {}
    }
    files
}

fn program_label(res: &Resolution) -> String {
    res.program().map_or_else(|| "$…".to_owned(), str::to_owned)
}

#[derive(Default)]
struct Found {
    destinations: Vec<Destination>,
    hazards: Vec<Hazard>,
}

/// A network program: how its arguments name destinations.
struct NetProgram {
    names: &'static [&'static str],
    short_with_value: &'static str,
    long_with_value: &'static [&'static str],
    /// Options whose value is a destination.
    destination_options: &'static [&'static str],
    /// Options that redirect traffic, with the hazard kind.
    hazards: &'static [(&'static str, &'static str)],
    operands: Operands,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Operands {
    /// Every operand is a URL or a bare host (curl, wget).
    AllUrls,
    /// The first operand is a host (ssh, nc, telnet).
    FirstHost,
    /// An optional METHOD, then a URL; the rest are request items (httpie).
    MethodThenUrl,
    /// `host:path` operands (scp, rsync, sftp).
    HostPaths,
    /// Operands are not destinations (gh: it names its host by option).
    None,
}

const CURL_LONG: &[&str] = &[
    "--data",
    "--data-ascii",
    "--data-binary",
    "--data-raw",
    "--data-urlencode",
    "--json",
    "--form",
    "--form-string",
    "--header",
    "--proxy-header",
    "--user",
    "--user-agent",
    "--referer",
    "--cookie",
    "--cookie-jar",
    "--output",
    "--output-dir",
    "--request",
    "--write-out",
    "--max-time",
    "--connect-timeout",
    "--retry",
    "--retry-delay",
    "--retry-max-time",
    "--upload-file",
    "--oauth2-bearer",
    "--cacert",
    "--capath",
    "--cert",
    "--key",
    "--cert-type",
    "--key-type",
    "--pass",
    "--limit-rate",
    "--max-filesize",
    "--range",
    "--dump-header",
    "--trace",
    "--trace-ascii",
    "--stderr",
    "--config",
    "--url",
    "--proxy",
    "--proxy-user",
    "--preproxy",
    "--socks4",
    "--socks4a",
    "--socks5",
    "--socks5-hostname",
    "--resolve",
    "--connect-to",
    "--interface",
    "--local-port",
    "--dns-servers",
    "--doh-url",
    "--aws-sigv4",
    "--variable",
    "--ciphers",
    "--tls-max",
    "--keepalive-time",
    "--speed-limit",
    "--speed-time",
    "--time-cond",
    "--pubkey",
    "--unix-socket",
    "--abstract-unix-socket",
    "--noproxy",
    "--mail-from",
    "--mail-rcpt",
    "--login-options",
    "--netrc-file",
    "--proto",
    "--proto-redir",
    "--proto-default",
    "--max-redirs",
    "--expect100-timeout",
    "--parallel-max",
    "--rate",
    "--hsts",
    "--alt-svc",
    "--etag-save",
    "--etag-compare",
    "--quote",
    "--ftp-port",
    "--url-query",
    "--expand-url",
    "--expand-data",
    "--expand-header",
    "--expand-output",
];

const NET_PROGRAMS: &[NetProgram] = &[
    NetProgram {
        names: &["curl"],
        short_with_value: "AbcCdDeEFHKmoPQrTtuUwxXyYz",
        long_with_value: CURL_LONG,
        destination_options: &["--url"],
        hazards: &[
            ("-x", "proxy"),
            ("--proxy", "proxy"),
            ("--preproxy", "proxy"),
            ("--socks4", "proxy"),
            ("--socks4a", "proxy"),
            ("--socks5", "proxy"),
            ("--socks5-hostname", "proxy"),
            ("--resolve", "resolve"),
            ("--connect-to", "resolve"),
            ("--doh-url", "resolve"),
            ("--dns-servers", "resolve"),
            ("-K", "config-file"),
            ("--config", "config-file"),
            ("-:", "next"),
            ("--next", "next"),
            ("--unix-socket", "socket"),
            ("--abstract-unix-socket", "socket"),
            ("--location-trusted", "trusted-redirect"),
            ("--variable", "variables"),
            ("--expand-url", "variables"),
        ],
        operands: Operands::AllUrls,
    },
    NetProgram {
        names: &["wget", "wget2"],
        short_with_value: "OoaeiBtTwPUQDXIlAR",
        long_with_value: &[
            "--header",
            "--user",
            "--password",
            "--http-user",
            "--http-password",
            "--post-data",
            "--post-file",
            "--body-data",
            "--body-file",
            "--method",
            "--output-document",
            "--output-file",
            "--directory-prefix",
            "--user-agent",
            "--referer",
            "--execute",
            "--input-file",
            "--tries",
            "--timeout",
            "--wait",
            "--load-cookies",
            "--save-cookies",
            "--ca-certificate",
            "--certificate",
            "--private-key",
            "--bind-address",
            "--limit-rate",
            "--quota",
            "--domains",
            "--accept",
            "--reject",
            "--level",
            "--base",
        ],
        destination_options: &[],
        hazards: &[
            ("-e", "config-file"),
            ("--execute", "config-file"),
            ("-i", "config-file"),
            ("--input-file", "config-file"),
            ("-B", "config-file"),
            ("--base", "config-file"),
        ],
        operands: Operands::AllUrls,
    },
    NetProgram {
        names: &["http", "https", "xh", "xhs"],
        short_with_value: "aAospv",
        long_with_value: &[
            "--auth",
            "--auth-type",
            "--session",
            "--session-read-only",
            "--output",
            "--print",
            "--pretty",
            "--style",
            "--format-options",
            "--default-scheme",
            "--max-redirects",
            "--verify",
            "--cert",
            "--cert-key",
            "--timeout",
            "--proxy",
        ],
        destination_options: &[],
        hazards: &[("--proxy", "proxy")],
        operands: Operands::MethodThenUrl,
    },
    NetProgram {
        names: &["ssh"],
        short_with_value: "BbcDEeFIiJLlmOoPpQRSWw",
        long_with_value: &[],
        destination_options: &[],
        hazards: &[
            ("-J", "proxy"),
            ("-o", "config-file"),
            ("-F", "config-file"),
        ],
        operands: Operands::FirstHost,
    },
    NetProgram {
        names: &["scp", "sftp", "rsync"],
        short_with_value: "cFiJloPSDBe",
        long_with_value: &["--rsh", "--rsync-path"],
        destination_options: &[],
        hazards: &[
            ("-J", "proxy"),
            ("-o", "config-file"),
            ("-F", "config-file"),
        ],
        operands: Operands::HostPaths,
    },
    NetProgram {
        names: &["nc", "ncat", "netcat", "telnet"],
        short_with_value: "ipsTwxXIOqVbelnS",
        long_with_value: &["--proxy", "--proxy-type"],
        destination_options: &[],
        hazards: &[("-x", "proxy"), ("--proxy", "proxy")],
        operands: Operands::FirstHost,
    },
    NetProgram {
        names: &["gh"],
        short_with_value: "",
        long_with_value: &["--hostname"],
        destination_options: &["--hostname"],
        hazards: &[],
        operands: Operands::None,
    },
];

const GIT_GLOBAL_WITH_VALUE: &[&str] = &["-C", "-c", "--git-dir", "--work-tree", "--namespace"];
const GIT_REMOTE_SUBCOMMANDS: &[&str] = &["push", "pull", "fetch", "clone", "ls-remote"];
/// Environment variables that name a host for the program they are set on.
const HOST_ENV: &[&str] = &["GH_HOST"];

impl Found {
    fn destination(&mut self, word: &str, target: Target) {
        self.destinations.push(Destination {
            text: display_marks(word),
            target,
        });
    }

    fn hazard(&mut self, kind: &'static str, word: &str) {
        self.hazards.push(Hazard {
            kind,
            text: display_marks(word),
        });
    }

    fn scan_command(
        &mut self,
        cmd: &Command,
        res: &Resolution,
        texts: &[Option<String>],
        env: &Environment,
    ) {
        let rendered: Vec<String> = cmd.words.iter().map(Word::rendered).collect();
        // Any URL or user@host: anywhere is a destination, whoever reads it.
        let all_words = cmd
            .assignments
            .iter()
            .map(Word::rendered)
            .chain(rendered.iter().cloned())
            .chain(cmd.redirects.iter().map(|r| r.target.rendered()));
        for word in all_words {
            if let Some(url) = url_in(&word) {
                self.destination(&word, url_target(url));
            } else if word.contains('@') {
                if let Some(t) = scp_host(&word) {
                    self.destination(&word, t);
                }
            }
        }
        // Assignments that reroute traffic, wherever they are made.
        let assignments = cmd
            .assignments
            .iter()
            .map(Word::rendered)
            .chain(res.env_assignments.iter().map(|&i| rendered[i].clone()))
            .chain(
                // export/declare/… NAME=value persist for later commands.
                rendered
                    .iter()
                    .skip(1)
                    .filter(|_| {
                        res.program().is_some_and(|p| {
                            ["export", "declare", "typeset", "local", "readonly"].contains(&p)
                        })
                    })
                    .cloned(),
            );
        for a in assignments {
            // `export NAME` without a value changes nothing.
            let Some((name, value)) = a.split_once('=') else {
                continue;
            };
            if DANGEROUS_ENV.contains(&name) {
                self.hazard("env-override", &a);
            }
            if HOST_ENV.contains(&name) {
                self.destination(&a, url_target(value));
            }
        }
        let (Some(program), Some(pi)) = (res.program(), res.program_index) else {
            return;
        };
        if program == "git" {
            self.scan_git(&rendered[pi + 1..], &texts[pi + 1..], env);
            return;
        }
        if ["docker", "podman", "helm", "oras"].contains(&program) {
            self.scan_registry_login(&rendered[pi + 1..]);
            return;
        }
        if let Some(net) = NET_PROGRAMS.iter().find(|n| n.names.contains(&program)) {
            self.scan_net(net, &rendered[pi + 1..]);
        }
    }

    fn scan_net(&mut self, net: &NetProgram, args: &[String]) {
        let mut operands = Vec::new();
        let mut i = 0;
        let mut after_dashdash = false;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if after_dashdash || !arg.starts_with('-') || arg == "-" {
                operands.push(arg.clone());
                continue;
            }
            if arg == "--" {
                after_dashdash = true;
                continue;
            }
            if arg.starts_with("--") {
                let (name, inline) = match arg.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_owned())),
                    None => (arg.as_str(), None),
                };
                if let Some((_, kind)) = net.hazards.iter().find(|(o, _)| *o == name) {
                    self.hazard(kind, arg);
                } else if name.starts_with("--expand-") && net.names.contains(&"curl") {
                    self.hazard("variables", arg);
                }
                let takes = net.long_with_value.contains(&name);
                let value = match inline {
                    Some(v) => Some(v),
                    None if takes => {
                        i += 1;
                        args.get(i - 1).cloned()
                    }
                    None => None,
                };
                if net.destination_options.contains(&name) {
                    if let Some(v) = value {
                        self.destination(&v, url_target(&v));
                    }
                }
                continue;
            }
            // A cluster of short options; the first that takes a value ends it.
            let flags: Vec<char> = arg[1..].chars().collect();
            for (k, f) in flags.iter().enumerate() {
                let opt = format!("-{f}");
                if let Some((_, kind)) = net.hazards.iter().find(|(o, _)| *o == opt) {
                    self.hazard(kind, arg);
                }
                if net.short_with_value.contains(*f) {
                    if k + 1 == flags.len() {
                        i += 1;
                    }
                    break;
                }
            }
        }
        match net.operands {
            Operands::AllUrls => {
                for op in &operands {
                    if url_in(op).is_none() {
                        self.destination(op, url_target(op));
                    }
                }
            }
            Operands::FirstHost => {
                if let Some(op) = operands.first() {
                    if url_in(op).is_none() {
                        self.destination(op, url_target(op));
                    }
                }
            }
            Operands::MethodThenUrl => {
                let mut ops = operands.iter();
                let mut first = ops.next();
                if first.is_some_and(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()))
                {
                    first = ops.next();
                }
                if let Some(url) = first {
                    if url_in(url).is_none() {
                        // httpie's `:3000/path` is localhost.
                        let text = if url.starts_with(':') {
                            format!("localhost{url}")
                        } else {
                            url.clone()
                        };
                        self.destination(url, url_target(&text));
                    }
                }
            }
            Operands::HostPaths => {
                for op in &operands {
                    if url_in(op).is_none() && !op.contains('@') {
                        if let Some(t) = scp_host(op) {
                            self.destination(op, t);
                        }
                    }
                }
            }
            Operands::None => {}
        }
    }

    fn scan_git(&mut self, args: &[String], texts: &[Option<String>], env: &Environment) {
        let mut i = 0;
        while i < args.len() && args[i].starts_with('-') {
            let arg = &args[i];
            if arg == "-c" || arg.starts_with("-c") && arg.len() > 2 {
                let kv = if arg == "-c" {
                    i += 1;
                    args.get(i).map_or("", String::as_str)
                } else {
                    &arg[2..]
                };
                let key = kv
                    .split('=')
                    .next()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if key.contains("proxy")
                    || key.ends_with("insteadof")
                    || key.ends_with("pushinsteadof")
                    || key.contains("sshcommand")
                    || key.starts_with("remote.")
                    || key.starts_with("include")
                {
                    self.hazard("git-config", kv);
                }
            } else if GIT_GLOBAL_WITH_VALUE.contains(&arg.as_str()) {
                i += 1;
            }
            i += 1;
        }
        let Some(sub) = texts.get(i).cloned().flatten() else {
            return;
        };
        if !GIT_REMOTE_SUBCOMMANDS.contains(&sub.as_str()) {
            return;
        }
        let remote = args[i + 1..].iter().find(|a| !a.starts_with('-')).cloned();
        match remote {
            None if sub != "clone" => self.git_remote("origin", env),
            Some(r) if url_in(&r).is_none() && scp_host(&r).is_none() => self.git_remote(&r, env),
            _ => {}
        }
    }

    fn git_remote(&mut self, name: &str, env: &Environment) {
        if name.contains([DYNAMIC_MARK, PLACEHOLDER_MARK]) {
            self.destination(
                name,
                Target::Unknown {
                    why: "the git remote is an expansion".into(),
                },
            );
            return;
        }
        let target = match env.git_remotes.get(name) {
            Some(url) => match url_in(url) {
                Some(u) => url_target(u),
                None => scp_host(url).unwrap_or_else(|| url_target(url)),
            },
            None if name.starts_with('/') || name.starts_with('.') => return,
            None => Target::Unknown {
                why: format!("git remote `{name}` is not known here; give its URL"),
            },
        };
        self.destination(&format!("git remote {name}"), target);
    }

    fn scan_registry_login(&mut self, args: &[String]) {
        let mut it = args.iter().skip_while(|a| *a == "registry");
        if it.next().map(String::as_str) != Some("login") {
            return;
        }
        let mut rest = it.peekable();
        while let Some(a) = rest.next() {
            if ["-u", "-p", "--username", "--password"].contains(&a.as_str()) {
                rest.next();
            } else if !a.starts_with('-') {
                self.destination(a, url_target(a));
                return;
            }
        }
    }
}

/// Replaces the analysis marks with readable stand-ins.
fn display_marks(s: &str) -> String {
    s.replace(PLACEHOLDER_MARK, "{{…}}")
        .replace(DYNAMIC_MARK, "$…")
}
