//! The file guard's reading of a command: which programs re-encode what
//! they read, and which files the command names, as bash would name them.
//!
//! A command without placeholders runs as the model wrote it, and its
//! output is scrubbed afterwards. That is enough for `cat .env` (the
//! scrubber knows the value's forms), not for a program that re-encodes,
//! slices, archives or renders a file holding a value: its output can carry
//! the value in a form no scrubber recognises. [`file_use`] reads the
//! command with the core lexer ([`claulock_core::shell::simple_commands`]):
//! quotes removed, each expansion only the shell knows marked, and
//! [`expand`] then does bash's brace, tilde and pathname expansion against
//! the file system through [`Workspace`] (this crate does no IO itself).
//!
//! It is a second line, not a boundary: a value in a file the model can read
//! is a value the model can read (a script it wrote reads it as well as
//! `base64` does). The refusals tell the model to have the file imported.

use std::path::{Component, Path, PathBuf};

use claulock_core::programs::{ENCODERS, INTERPRETERS};
use claulock_core::shell::{ShellWord, SimpleCommand};

/// The file system questions the file guard asks; the caller answers them
/// (the `claulock` hook from the real file system, tests from a fake).
pub trait Workspace {
    /// The entries of directory `dir`: each name, and whether it is a
    /// directory (symbolic links followed). `None`: not a readable
    /// directory.
    fn entries(&self, dir: &Path) -> Option<Vec<(String, bool)>>;
    /// `path` with every symbolic link and `..` resolved (`None`: it does
    /// not exist).
    fn resolve(&self, path: &Path) -> Option<PathBuf>;
    /// The user's home directory, for `~`.
    fn home(&self) -> Option<PathBuf>;
    /// The project `dir` belongs to: its nearest ancestor (itself included)
    /// holding `.git` or `.claulock.toml`.
    fn project_root(&self, dir: &Path) -> Option<PathBuf>;
    /// The contents git would print for `objects` in the repository of
    /// `cwd` (chosen further by git's own options `repo`: `-C DIR`,
    /// `--git-dir=…`, `--work-tree=…`): a blob's text for `REV:PATH` or a
    /// blob's id, and every file version the repository holds for anything
    /// else (a commit, a range, no object at all).
    ///
    /// # Errors
    ///
    /// When they cannot all be read within the caller's limits: the
    /// message says why, and the command is refused.
    fn git_contents(
        &self,
        cwd: &Path,
        repo: &[String],
        objects: &[String],
    ) -> Result<Vec<Vec<u8>>, String>;
}

/// How a command reads files, as far as the file guard cares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileUse {
    /// A program that re-encodes, slices or archives what it reads
    /// (`base64`, `head -c`, `tar`), or an interpreter running a script.
    pub reencoder: Option<String>,
    /// An interpreter running code given inline (`python3 -c`, a
    /// here-document): it can read any file.
    pub inline_code: Option<String>,
    /// A tool that renders files into images or documents (`convert`,
    /// `chromium --screenshot`): a read of its output cannot be scrubbed.
    pub renderer: Option<String>,
    /// Whether a directory the command names is read whole (an archiver).
    pub recursive: bool,
    /// The words that may name files, as patterns
    /// ([`ShellWord::Literal`]'s `pattern`: quoted characters escaped).
    pub words: Vec<String>,
    /// The directories the command changes into (`cd DIR`), as patterns:
    /// its relative words are looked up there too.
    pub dirs: Vec<String>,
    /// A word only the running shell knows (`$F`, `$(…)`, backticks, the
    /// files `find` or `xargs` pass on), or a command the lexer could not
    /// read: any file of the working directory may be meant.
    pub unknown: bool,
    /// What git prints from its object database.
    pub git: Vec<GitRead>,
}

impl FileUse {
    /// Whether the command's files must be checked before it runs.
    pub fn needs_check(&self) -> bool {
        self.reencoder.is_some() || self.inline_code.is_some() || self.renderer.is_some()
    }

    fn merge(&mut self, other: FileUse) {
        self.reencoder = self.reencoder.take().or(other.reencoder);
        self.inline_code = self.inline_code.take().or(other.inline_code);
        self.renderer = self.renderer.take().or(other.renderer);
        self.recursive |= other.recursive;
        self.words.extend(other.words);
        self.dirs.extend(other.dirs);
        self.unknown |= other.unknown;
        self.git.extend(other.git);
    }
}

/// A git command that prints file contents from the object database.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GitRead {
    /// git's options that choose the repository (`-C DIR`, `--git-dir=…`,
    /// `--work-tree=…`), as given.
    pub repo: Vec<String>,
    /// The objects it names (`HEAD:.env`, an id); empty: any file version
    /// the repository holds (`git log -p`, `git diff`, `git archive`).
    pub objects: Vec<String>,
}

/// Archivers and compressors: their output holds a file's bytes compressed
/// (no scrubber sees through that), and they read directories whole.
pub const ARCHIVERS: &[&str] = &[
    "tar",
    "zip",
    "7z",
    "7za",
    "7zr",
    "cpio",
    "pax",
    "ar",
    "rar",
    "shar",
    "gzip",
    "pigz",
    "xz",
    "lzma",
    "zstd",
    "pzstd",
    "bzip2",
    "pbzip2",
    "lbzip2",
    "lz4",
    "lzop",
    "brotli",
    "compress",
    "mksquashfs",
    "mkisofs",
    "genisoimage",
    "xorriso",
];

/// Programs that slice or re-encode what they read besides
/// [`ENCODERS`]: each piece is too short to be recognised as a value.
pub const SLICERS: &[&str] = &["colrm", "figlet", "toilet", "banner"];

/// Programs that slice only with some options: `head -c 5`, `grep -o .`.
const OPTION_SLICERS: &[(&[&str], &[&str], char)] = &[
    (&["head", "tail"], &["--bytes"], 'c'),
    (
        &["grep", "egrep", "fgrep", "rg", "ag", "ack", "git-grep"],
        &["--only-matching"],
        'o',
    ),
];

/// Tools that render files into images or documents; a read of the image
/// cannot be scrubbed.
pub const RENDERERS: &[&str] = &[
    "convert",
    "magick",
    "montage",
    "composite",
    "enscript",
    "a2ps",
    "pandoc",
    "wkhtmltoimage",
    "wkhtmltopdf",
    "pdftoppm",
    "pdftocairo",
    "text2image",
    "ps2pdf",
    "gs",
    "groff",
    "rsvg-convert",
    "inkscape",
    "unoconv",
    "silicon",
    "freeze",
    "carbon-now",
    "termshot",
    "qrencode",
];

/// Browsers and office suites render only with some options.
const OPTION_RENDERERS: &[(&[&str], &[&str])] = &[
    (
        &[
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
            "chrome",
            "headless_shell",
            "chrome-headless-shell",
            "firefox",
            "msedge",
        ],
        &["--screenshot", "--print-to-pdf"],
    ),
    (&["libreoffice", "soffice", "lowriter"], &["--convert-to"]),
];

/// Programs that run another program: the words after them may name it.
const WRAPPERS: &[&str] = &[
    "sudo",
    "doas",
    "env",
    "nice",
    "nohup",
    "timeout",
    "gtimeout",
    "stdbuf",
    "command",
    "exec",
    "time",
    "xargs",
    "ionice",
    "chrt",
    "taskset",
    "setsid",
    "unbuffer",
    "watch",
    "strace",
    "ltrace",
    "builtin",
    "flock",
    "firejail",
    "bwrap",
    "chroot",
    "unshare",
    "nsenter",
    "runuser",
    "su",
    "script",
    "parallel",
    "entr",
    "busybox",
    "catchsegv",
    "valgrind",
    "perf",
    "gdb",
];

/// Shells: code after `-c` is read as a command line of its own.
const SHELLS: &[&str] = &["sh", "bash", "zsh", "dash", "ksh", "mksh", "fish", "ash"];

/// git subcommands that print file contents from the object database.
const GIT_CONTENT: &[&str] = &[
    "show",
    "cat-file",
    "log",
    "whatchanged",
    "reflog",
    "format-patch",
    "diff",
    "diff-tree",
    "diff-index",
    "diff-files",
    "blame",
    "annotate",
    "grep",
    "archive",
    "bundle",
    "fast-export",
    "stash",
    "range-diff",
    "notes",
    "cherry",
];

/// git subcommands whose output is compressed or packed: re-encoders.
const GIT_PACKING: &[&str] = &["archive", "bundle", "fast-export"];

/// Interpreter options that take the next word as their value.
const VALUE_OPTIONS: &[&str] = &[
    "-W",
    "-X",
    "-r",
    "--require",
    "--import",
    "-I",
    "--loader",
    "--experimental-loader",
];

/// How deep `bash -c '…'` and `eval '…'` are read into.
const MAX_DEPTH: usize = 4;

/// How `command` reads files (see [`FileUse`]). A command the lexer cannot
/// read is split on blanks instead, and counts as naming any file of the
/// working directory.
pub fn file_use(command: &str) -> FileUse {
    file_use_at(command, 0)
}

fn file_use_at(command: &str, depth: usize) -> FileUse {
    match claulock_core::shell::simple_commands(command) {
        Ok(cmds) => {
            let mut u = FileUse::default();
            for c in &cmds {
                u.merge(simple(c, depth));
            }
            u
        }
        Err(_) => split_fallback(command),
    }
}

fn basename(word: &str) -> &str {
    word.rsplit('/').next().unwrap_or(word)
}

/// Whether `word` is a short-option cluster holding `letter` (`-c`, `-uc`,
/// `-ne`), or, with `long`, one of the long options (`--bytes=5` too).
fn has_option(words: &[Option<&str>], letter: Option<char>, long: &[&str]) -> bool {
    words.iter().flatten().any(|w| {
        if let Some(rest) = w.strip_prefix("--") {
            let _ = rest;
            return long
                .iter()
                .any(|l| w == l || w.strip_prefix(l).is_some_and(|t| t.starts_with('=')));
        }
        match (letter, w.strip_prefix('-')) {
            (Some(l), Some(cluster)) => {
                // `-c5`, `-c+5`: the option's value follows its letter.
                let letters = cluster
                    .split(|c: char| !c.is_ascii_alphabetic())
                    .next()
                    .unwrap_or("");
                !letters.is_empty() && letters.contains(l)
            }
            _ => false,
        }
    })
}

/// The patterns a literal word may name files by: itself, the value of an
/// option or operand written `KEY=VALUE` (`--input=.env`, `if=.env`), the
/// part after a `prefix:` (`text:.env` for ImageMagick) and without a
/// leading `@` (`@.env`, a file of arguments).
fn word_patterns(pattern: &str, text: &str, out: &mut Vec<String>) {
    if !text.starts_with('-') {
        out.push(pattern.to_owned());
    }
    for sep in ['=', ':'] {
        if let Some((_, rest)) = pattern.split_once(sep) {
            if !rest.is_empty() && !rest.starts_with("//") {
                out.push(rest.to_owned());
            }
        }
    }
    if let Some(rest) = pattern.strip_prefix('@') {
        out.push(rest.to_owned());
    }
}

fn simple(c: &SimpleCommand, depth: usize) -> FileUse {
    let mut u = FileUse::default();
    let texts: Vec<Option<&str>> = c.words.iter().map(ShellWord::text).collect();
    for (i, w) in c.words.iter().enumerate() {
        match w {
            ShellWord::Literal { text, pattern } => word_patterns(pattern, text, &mut u.words),
            ShellWord::Dynamic if i == 0 => {
                // A program chosen at run time may be any re-encoder.
                u.reencoder = Some("a program named at run time".into());
                u.unknown = true;
            }
            ShellWord::Dynamic => u.unknown = true,
        }
    }
    for (op, target) in &c.redirects {
        if !matches!(*op, "<" | "<>") {
            continue;
        }
        match target {
            ShellWord::Literal { text, pattern } => word_patterns(pattern, text, &mut u.words),
            ShellWord::Dynamic => u.unknown = true,
        }
    }
    // The program, and past a wrapper (`sudo`, `xargs`, `env`) any later
    // word: their options are not parsed here, so each may be the program.
    let mut candidates = vec![0usize];
    if texts
        .first()
        .copied()
        .flatten()
        .is_some_and(|p| WRAPPERS.contains(&basename(p)))
    {
        candidates.extend(1..texts.len());
        if texts.first().copied().flatten().map(basename) == Some("xargs") {
            u.unknown = true;
        }
    }
    if texts.first().copied().flatten().map(basename) == Some("find") {
        if let Some(at) = texts
            .iter()
            .position(|t| t.is_some_and(|t| matches!(t, "-exec" | "-execdir" | "-ok" | "-okdir")))
        {
            candidates.extend(at + 1..texts.len());
            u.unknown = true;
        }
    }
    let stdin_code =
        c.heredoc || c.pipe_from.is_some() || c.redirects.iter().any(|(op, _)| *op == "<<<");
    for &i in &candidates {
        let Some(Some(word)) = texts.get(i) else {
            continue;
        };
        let program = basename(word);
        let args = &texts[i + 1..];
        let args_words = &c.words[i + 1..];
        if program == "cd" || program == "pushd" {
            match args_words
                .iter()
                .find(|w| w.text().is_none_or(|t| !t.starts_with('-')))
            {
                Some(ShellWord::Literal { pattern, .. }) => u.dirs.push(pattern.clone()),
                Some(ShellWord::Dynamic) => u.unknown = true,
                None => u.dirs.push("~".into()),
            }
            continue;
        }
        if ENCODERS.contains(&program) || SLICERS.contains(&program) {
            u.reencoder.get_or_insert_with(|| program.to_owned());
        }
        if ARCHIVERS.contains(&program) {
            u.reencoder.get_or_insert_with(|| program.to_owned());
            u.recursive = true;
            // `tar -C DIR`: the files named after it are DIR's.
            for (k, a) in args.iter().enumerate() {
                match a {
                    Some("-C" | "--directory") => match args_words.get(k + 1) {
                        Some(ShellWord::Literal { pattern, .. }) => u.dirs.push(pattern.clone()),
                        _ => u.unknown = true,
                    },
                    Some(a) if a.starts_with("--directory=") => {
                        u.dirs.push(a["--directory=".len()..].to_owned());
                    }
                    _ => {}
                }
            }
        }
        for (names, long, letter) in OPTION_SLICERS {
            if names.contains(&program) && has_option(args, Some(*letter), long) {
                u.reencoder
                    .get_or_insert_with(|| format!("{program} -{letter}"));
            }
        }
        if RENDERERS.contains(&program) {
            u.renderer.get_or_insert_with(|| program.to_owned());
        }
        for (names, long) in OPTION_RENDERERS {
            if names.contains(&program) && has_option(args, None, long) {
                u.renderer.get_or_insert_with(|| program.to_owned());
            }
        }
        if program == "git" {
            git(args_words, &mut u);
        }
        if program == "eval" {
            match inline_text(args_words) {
                Some(code) if depth < MAX_DEPTH => u.merge(file_use_at(&code, depth + 1)),
                _ => u.inline_code = Some("eval".into()),
            }
        }
        interpreter(program, args, args_words, stdin_code, depth, &mut u);
    }
    u
}

/// The text of literal words joined as `eval` joins them (`None` when one
/// is dynamic).
fn inline_text(words: &[ShellWord]) -> Option<String> {
    let texts: Option<Vec<&str>> = words.iter().map(ShellWord::text).collect();
    Some(texts?.join(" "))
}

fn interpreter(
    program: &str,
    args: &[Option<&str>],
    args_words: &[ShellWord],
    stdin_code: bool,
    depth: usize,
    u: &mut FileUse,
) {
    let Some((_, flags)) = INTERPRETERS
        .iter()
        .find(|(name, _)| *name == program && program != "busybox")
    else {
        return;
    };
    let is_shell = SHELLS.contains(&program);
    // The interpreter's own options end at its first operand (a script,
    // `-m module`): `python3 -m pytest -c x.ini` runs no inline code.
    let mut inline_at = None;
    let mut k = 0;
    while let Some(a) = args.get(k) {
        let Some(a) = a else { break };
        let inline = flags.iter().any(|f| {
            if f.len() == 2 && f.starts_with('-') {
                let letter = f.chars().nth(1).unwrap_or('-');
                has_option(&[Some(a)], Some(letter), &[])
            } else {
                a == f
            }
        });
        if inline {
            inline_at = Some(k);
            break;
        }
        if !a.starts_with('-') || *a == "-" || *a == "-m" || *a == "--" {
            break;
        }
        k += if VALUE_OPTIONS.contains(a) { 2 } else { 1 };
    }
    if let Some(at) = inline_at {
        if is_shell && depth < MAX_DEPTH {
            // `bash -c 'tr a-z A-Z < .env'`: read the code as a command line.
            if let Some(ShellWord::Literal { text, .. }) = args_words.get(at + 1) {
                u.merge(file_use_at(text, depth + 1));
                return;
            }
        }
        let flag = args[at].unwrap_or_default();
        u.inline_code = Some(format!("{program} {flag}"));
        return;
    }
    // No script operand (or `-`), and code on standard input.
    let operand = args
        .iter()
        .find(|a| a.is_none_or(|a| !a.starts_with('-') || a == "-"));
    let from_stdin = matches!(operand, None | Some(Some("-")));
    if from_stdin && stdin_code {
        u.inline_code = Some(format!("{program} reading code from its input"));
        return;
    }
    // A script may read any file it is given, and print it in any form.
    u.reencoder.get_or_insert_with(|| program.to_owned());
}

fn git(args: &[ShellWord], u: &mut FileUse) {
    let mut read = GitRead::default();
    let mut i = 0;
    // git's own options, before the subcommand.
    let sub = loop {
        let Some(w) = args.get(i) else {
            return;
        };
        let Some(t) = w.text() else {
            // A subcommand or a repository known only at run time.
            u.unknown = true;
            u.git.push(GitRead::default());
            return;
        };
        match t {
            "-C" | "--git-dir" | "--work-tree" | "--namespace" => {
                let Some(v) = args.get(i + 1).and_then(ShellWord::text) else {
                    u.unknown = true;
                    return;
                };
                read.repo.extend([t.to_owned(), v.to_owned()]);
                i += 2;
            }
            "-c" | "--exec-path" | "--super-prefix" | "--config-env" => i += 2,
            t if t.starts_with("--git-dir=") || t.starts_with("--work-tree=") => {
                read.repo.push(t.to_owned());
                i += 1;
            }
            t if t.starts_with('-') => i += 1,
            t => break t,
        }
    };
    if !GIT_CONTENT.contains(&sub) {
        return;
    }
    let rest = &args[i + 1..];
    let texts: Vec<Option<&str>> = rest.iter().map(ShellWord::text).collect();
    if GIT_PACKING.contains(&sub) || has_option(&texts, None, &["--binary"]) {
        u.reencoder.get_or_insert_with(|| format!("git {sub}"));
    }
    if matches!(sub, "show" | "cat-file") {
        let mut all = false;
        for t in &texts {
            match t {
                None => all = true,
                Some("--") => break,
                Some(t) if t.starts_with("--batch") || *t == "--stdin" => all = true,
                Some(t) if t.starts_with('-') => {}
                Some(t) => read.objects.push((*t).to_owned()),
            }
        }
        if all || read.objects.is_empty() {
            read.objects.clear();
        }
    }
    u.git.push(read);
}

/// The old reading, for a command the lexer refuses: words split on blanks
/// and operators, quotes trimmed, and any file of the directory possibly
/// meant.
fn split_fallback(command: &str) -> FileUse {
    let words: Vec<&str> = command
        .split(|c: char| c.is_whitespace() || ";|&<>()`$".contains(c))
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
        .filter(|w| !w.is_empty())
        .collect();
    let mut u = FileUse {
        unknown: true,
        ..FileUse::default()
    };
    for w in &words {
        word_patterns(w, w, &mut u.words);
        let program = basename(w);
        if ENCODERS.contains(&program) || SLICERS.contains(&program) {
            u.reencoder.get_or_insert_with(|| program.to_owned());
        }
        if ARCHIVERS.contains(&program) {
            u.reencoder.get_or_insert_with(|| program.to_owned());
            u.recursive = true;
        }
        if RENDERERS.contains(&program)
            || OPTION_RENDERERS.iter().any(|(n, _)| n.contains(&program))
        {
            u.renderer.get_or_insert_with(|| program.to_owned());
        }
        if INTERPRETERS.iter().any(|(n, _)| *n == program) || program == "eval" {
            u.inline_code
                .get_or_insert_with(|| format!("{program} (in a command ClauLock cannot read)"));
        }
        if program == "git" {
            u.git.push(GitRead::default());
        }
    }
    u
}

/// A file a command names, found by [`expand`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    /// The word as the model wrote it (quotes removed), or where it came
    /// from (`a file of DIR`).
    pub word: String,
    /// The file, symbolic links resolved.
    pub path: PathBuf,
}

/// The files a command names, and whether it may mean others too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// Each existing file or directory its words name.
    pub named: Vec<Named>,
    /// A word only the running shell can resolve (see
    /// [`FileUse::unknown`]), or a path through `/proc/*/fd`, `/dev/fd`,
    /// `/proc/*/root` or `/proc/*/cwd`.
    pub unknown: bool,
}

/// At most this many paths come out of one word's expansion: past it the
/// word counts as unknown.
const MAX_EXPANSION: usize = 512;

/// The files `u`'s words name, relative to `cwd` (and to each directory the
/// command changes into), with brace, tilde and pathname expansion done
/// as bash does them (a glob that matches nothing stays literal; `*` does
/// not match a leading `.`).
pub fn expand(u: &FileUse, cwd: &Path, ws: &dyn Workspace) -> Targets {
    let mut t = Targets {
        unknown: u.unknown,
        ..Targets::default()
    };
    let mut bases = vec![cwd.to_path_buf()];
    for d in &u.dirs {
        match expand_word(d, cwd, ws) {
            Some(paths) => bases.extend(paths.into_iter().map(|(_, p)| p)),
            None => t.unknown = true,
        }
    }
    for w in &u.words {
        for base in &bases {
            let Some(paths) = expand_word(w, base, ws) else {
                t.unknown = true;
                continue;
            };
            for (word, path) in paths {
                if let Some(alias) = proc_path(&path) {
                    // What the running command's fd or root is, only it knows.
                    t.unknown = true;
                    if let Some(p) = alias.and_then(|a| ws.resolve(&a)) {
                        t.named.push(Named {
                            word: word.clone(),
                            path: p,
                        });
                    }
                    continue;
                }
                let Some(real) = ws.resolve(&path) else {
                    continue;
                };
                if proc_path(&real).is_some() {
                    t.unknown = true;
                    continue;
                }
                if !t.named.iter().any(|n| n.path == real) {
                    t.named.push(Named { word, path: real });
                }
            }
        }
    }
    t
}

/// The regular files directly in `dir` (the wildcard rule: a word that
/// cannot be known may name any of them).
pub fn files_of(dir: &Path, ws: &dyn Workspace) -> Vec<Named> {
    let mut out = Vec::new();
    for (name, is_dir) in ws.entries(dir).unwrap_or_default() {
        if is_dir {
            continue;
        }
        if let Some(path) = ws.resolve(&dir.join(&name)) {
            out.push(Named {
                word: format!("{name} (in {})", dir.display()),
                path,
            });
        }
    }
    out
}

/// `Some` for a path whose meaning depends on the process that opens it:
/// `/proc/*/fd/*`, `/dev/fd/*`, `/proc/*/root/…`, `/proc/*/cwd/…` (and
/// `map_files`). The inner `Some` is the file it most likely means (the
/// rest of a `/proc/*/root/…` path, from the root).
fn proc_path(path: &Path) -> Option<Option<PathBuf>> {
    let normal = lexical(path);
    let parts: Vec<&str> = normal
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        ["dev", "fd", ..] | ["dev", "stdin" | "stdout" | "stderr"] => Some(None),
        ["proc", _, "fd" | "fdinfo" | "map_files" | "cwd", ..] => Some(None),
        ["proc", _, "root", rest @ ..] => Some(Some(
            std::iter::once("/").chain(rest.iter().copied()).collect(),
        )),
        ["proc", _, "task", _, "fd" | "cwd" | "root", ..] => Some(None),
        _ => None,
    }
}

/// `path` with `.` and `..` removed lexically.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// One word's paths, each with the text it was found by (`None`: the
/// word cannot be known: `~user`, too many expansions).
fn expand_word(pattern: &str, base: &Path, ws: &dyn Workspace) -> Option<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for p in braces(pattern, 0)? {
        let p = tilde(&p, ws)?;
        let text = unescape(&p);
        if !has_glob(&p) {
            out.push((text.clone(), base.join(&text)));
            continue;
        }
        let matches = glob(&p, base, ws);
        if matches.is_empty() {
            out.push((text.clone(), base.join(&text)));
        }
        for m in matches {
            out.push((m.display().to_string(), m));
        }
        if out.len() > MAX_EXPANSION {
            return None;
        }
    }
    Some(out)
}

fn tilde(p: &str, ws: &dyn Workspace) -> Option<String> {
    if p == "~" || p.starts_with("~/") {
        let home = ws.home()?;
        return Some(format!(
            "{}{}",
            escape(&home.display().to_string()),
            &p[1..]
        ));
    }
    if p.starts_with('~') {
        // `~user`, `~+`: not worth guessing.
        return None;
    }
    Some(p.to_owned())
}

fn escape(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\*?[]{},~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn unescape(p: &str) -> String {
    let mut out = String::new();
    let mut chars = p.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn has_glob(p: &str) -> bool {
    let mut escaped = false;
    for c in p.chars() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '*' | '?' | '[') => return true,
            _ => {}
        }
    }
    false
}

/// Bash's brace expansion of an escaped pattern (`a{b,c}d`, `{1..3}`), at
/// most [`MAX_EXPANSION`] words (`None` past that).
fn braces(p: &str, depth: usize) -> Option<Vec<String>> {
    if depth > 8 {
        return None;
    }
    let chars: Vec<char> = p.chars().collect();
    // The first unescaped `{` with a matching `}` and a `,` or `..` at its
    // own level.
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '{' => {
                if let Some((close, commas)) = brace_close(&chars, i) {
                    let pre: String = chars[..i].iter().collect();
                    let post: String = chars[close + 1..].iter().collect();
                    let inner: String = chars[i + 1..close].iter().collect();
                    let alts: Vec<String> = if commas.is_empty() {
                        match sequence(&inner) {
                            Some(s) => s,
                            None => {
                                i += 1;
                                continue;
                            }
                        }
                    } else {
                        let mut parts = Vec::new();
                        let mut start = i + 1;
                        for &c in commas.iter().chain(std::iter::once(&close)) {
                            parts.push(chars[start..c].iter().collect());
                            start = c + 1;
                        }
                        parts
                    };
                    let mut out = Vec::new();
                    for a in alts {
                        for rest in braces(&format!("{pre}{a}{post}"), depth + 1)? {
                            out.push(rest);
                            if out.len() > MAX_EXPANSION {
                                return None;
                            }
                        }
                    }
                    return Some(out);
                }
                i += 1;
            }
            _ => i += 1,
        }
    }
    Some(vec![p.to_owned()])
}

/// The `}` closing the `{` at `open`, and the commas at its level.
fn brace_close(chars: &[char], open: usize) -> Option<(usize, Vec<usize>)> {
    let mut depth = 0usize;
    let mut commas = Vec::new();
    let mut i = open + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 1,
            '{' => depth += 1,
            '}' if depth == 0 => {
                let inner: String = chars[open + 1..i].iter().collect();
                return (!commas.is_empty() || inner.contains("..")).then_some((i, commas));
            }
            '}' => depth -= 1,
            ',' if depth == 0 => commas.push(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// `1..3`, `a..e` (a step is not supported: such a brace stays literal).
fn sequence(inner: &str) -> Option<Vec<String>> {
    let (a, b) = inner.split_once("..")?;
    if let (Ok(x), Ok(y)) = (a.parse::<i64>(), b.parse::<i64>()) {
        if x.abs_diff(y) > MAX_EXPANSION as u64 {
            return None;
        }
        let range: Vec<i64> = if x <= y {
            (x..=y).collect()
        } else {
            (y..=x).rev().collect()
        };
        return Some(range.into_iter().map(|n| n.to_string()).collect());
    }
    let (mut x, mut y) = (a.chars(), b.chars());
    match (x.next(), x.next(), y.next(), y.next()) {
        (Some(x), None, Some(y), None) if x.is_ascii_alphabetic() && y.is_ascii_alphabetic() => {
            let (lo, hi) = (x.min(y) as u8, x.max(y) as u8);
            let mut v: Vec<String> = (lo..=hi).map(|c| (c as char).to_string()).collect();
            if x > y {
                v.reverse();
            }
            Some(v)
        }
        _ => None,
    }
}

/// Pathname expansion of an escaped pattern, against `base` for a
/// relative one; sorted, as bash sorts.
fn glob(p: &str, base: &Path, ws: &dyn Workspace) -> Vec<PathBuf> {
    let (root, rest) = match p.strip_prefix('/') {
        Some(rest) => (PathBuf::from("/"), rest),
        None => (base.to_path_buf(), p),
    };
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let mut current = vec![root];
    for (k, part) in parts.iter().enumerate() {
        let last = k + 1 == parts.len();
        let mut next = Vec::new();
        for dir in &current {
            if !has_glob(part) {
                next.push(dir.join(unescape(part)));
                continue;
            }
            let mut names: Vec<(String, bool)> = ws.entries(dir).unwrap_or_default();
            names.sort();
            for (name, is_dir) in names {
                if !last && !is_dir {
                    continue;
                }
                if name.starts_with('.') && !part.starts_with('.') && !part.starts_with("\\.") {
                    continue;
                }
                if fnmatch(part, &name) {
                    next.push(dir.join(&name));
                }
            }
            if next.len() > MAX_EXPANSION {
                break;
            }
        }
        current = next;
    }
    current
}

/// Whether `name` matches the escaped glob `pattern` (`*`, `?`, `[…]` with
/// `!` or `^`, ranges and `[:class:]`).
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    matches_at(&p, &n)
}

fn matches_at(p: &[char], n: &[char]) -> bool {
    let (mut pi, mut ni) = (0usize, 0usize);
    // The last `*` and where its match is to be retried.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        let step = match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
                continue;
            }
            Some('?') => Some(pi + 1),
            Some('[') => match class(p, pi, n[ni]) {
                Some((true, end)) => Some(end),
                Some((false, _)) => None,
                // An unclosed `[` is literal.
                None => (n[ni] == '[').then_some(pi + 1),
            },
            Some('\\') => match p.get(pi + 1) {
                Some(&c) if c == n[ni] => Some(pi + 2),
                _ => None,
            },
            Some(&c) if c == n[ni] => Some(pi + 1),
            _ => None,
        };
        match step {
            Some(next) => {
                pi = next;
                ni += 1;
            }
            None => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// Whether `c` is in the bracket expression at `p[open]`, and the index
/// past it (`None`: the bracket is not closed).
fn class(p: &[char], open: usize, c: char) -> Option<(bool, usize)> {
    let mut i = open + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    loop {
        let &ch = p.get(i)?;
        if ch == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        if ch == '[' && p.get(i + 1) == Some(&':') {
            let rest: String = p[i + 2..].iter().collect();
            if let Some(end) = rest.find(":]") {
                let name = &rest[..end];
                hit |= match name {
                    "alpha" => c.is_alphabetic(),
                    "digit" => c.is_ascii_digit(),
                    "alnum" => c.is_alphanumeric(),
                    "upper" => c.is_uppercase(),
                    "lower" => c.is_lowercase(),
                    "space" => c.is_whitespace(),
                    "punct" => c.is_ascii_punctuation(),
                    "xdigit" => c.is_ascii_hexdigit(),
                    _ => false,
                };
                i += 2 + name.chars().count() + 2;
                continue;
            }
        }
        let lo = if ch == '\\' {
            i += 1;
            *p.get(i)?
        } else {
            ch
        };
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|&e| e != ']') {
            let mut hi = p[i + 2];
            let mut skip = 3;
            if hi == '\\' {
                hi = *p.get(i + 3)?;
                skip = 4;
            }
            hit |= lo <= c && c <= hi;
            i += skip;
        } else {
            hit |= lo == c;
            i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// A file tree in memory: path -> is a directory.
    struct Fake(BTreeMap<PathBuf, bool>);

    impl Fake {
        fn new(paths: &[&str]) -> Fake {
            let mut m = BTreeMap::new();
            for p in paths {
                let dir = p.ends_with('/');
                let p = PathBuf::from(p.trim_end_matches('/'));
                for a in p.ancestors().skip(1) {
                    m.insert(a.to_path_buf(), true);
                }
                m.insert(p, dir);
            }
            Fake(m)
        }
    }

    impl Workspace for Fake {
        fn entries(&self, dir: &Path) -> Option<Vec<(String, bool)>> {
            if self.0.get(dir) != Some(&true) {
                return None;
            }
            Some(
                self.0
                    .iter()
                    .filter(|(p, _)| p.parent() == Some(dir))
                    .map(|(p, d)| (p.file_name().unwrap().to_str().unwrap().to_owned(), *d))
                    .collect(),
            )
        }
        fn resolve(&self, path: &Path) -> Option<PathBuf> {
            let p = lexical(path);
            self.0.contains_key(&p).then_some(p)
        }
        fn home(&self) -> Option<PathBuf> {
            Some("/home/u".into())
        }
        fn project_root(&self, _: &Path) -> Option<PathBuf> {
            Some("/p".into())
        }
        fn git_contents(
            &self,
            _: &Path,
            _: &[String],
            _: &[String],
        ) -> Result<Vec<Vec<u8>>, String> {
            Ok(Vec::new())
        }
    }

    fn named(command: &str, fake: &Fake) -> (Vec<String>, bool) {
        let u = file_use(command);
        let t = expand(&u, Path::new("/p"), fake);
        (
            t.named
                .iter()
                .map(|n| n.path.display().to_string())
                .collect(),
            t.unknown,
        )
    }

    /// (command, the program the guard names, or none).
    const KINDS: &[(&str, &str, &str)] = &[
        // (command, which field, its value)
        ("tr a-z A-Z < .en?", "re", "tr"),
        ("head -c 10 .env", "re", "head -c"),
        ("head -n 3 .env", "", ""),
        ("tail --bytes=5 .env", "re", "tail -c"),
        ("grep -o . .env | nl", "re", "grep -o"),
        ("grep -v KEY .env", "", ""),
        ("cat .env", "", ""),
        ("docker compose --env-file .env up", "", ""),
        ("tar c .env | base64", "re", "tar"),
        ("sudo -u x base64 .env", "re", "base64"),
        ("python3 -c 'print(1)'", "inline", "python3 -c"),
        ("perl -ne 'print' .env", "inline", "perl -ne"),
        (
            "python3 - <<EOF\nprint(1)\nEOF",
            "inline",
            "python3 reading code from its input",
        ),
        (
            "echo 'print(1)' | python3",
            "inline",
            "python3 reading code from its input",
        ),
        ("python3 manage.py test", "re", "python3"),
        ("python3 -m pytest -c x.ini", "re", "python3"),
        ("node -r ts-node/register -e 1", "inline", "node -e"),
        ("npm test", "", ""),
        ("cargo test", "", ""),
        ("bash -c 'od -c .env'", "re", "od"),
        ("bash -c 'cat .env'", "", ""),
        ("bash -c \"$X\"", "inline", "bash -c"),
        ("convert text:.env x.png", "render", "convert"),
        (
            "chromium --headless --screenshot file:///p/.env",
            "render",
            "chromium",
        ),
        ("chromium --version", "", ""),
        (
            "libreoffice --headless --convert-to pdf .env",
            "render",
            "libreoffice",
        ),
        ("git show HEAD:.env | base64", "re", "base64"),
        ("git archive HEAD", "re", "git archive"),
        ("git show HEAD:.env", "", ""),
        ("$P .env", "re", "a program named at run time"),
        ("find . -name x -exec xxd {} +", "re", "xxd"),
    ];

    #[test]
    fn what_each_command_does_to_files() {
        for (command, field, want) in KINDS {
            let u = file_use(command);
            let got = match *field {
                "re" => u.reencoder.clone(),
                "inline" => u.inline_code.clone(),
                "render" => u.renderer.clone(),
                _ => None,
            };
            if field.is_empty() {
                assert!(!u.needs_check(), "{command}: {u:?}");
            } else {
                assert_eq!(got.as_deref(), Some(*want), "{command}: {u:?}");
            }
        }
    }

    #[test]
    fn words_are_expanded_as_bash_does() {
        let fake = Fake::new(&[
            "/p/.env",
            "/p/.envrc",
            "/p/a.txt",
            "/p/b.txt",
            "/p/sub/",
            "/p/sub/.env",
            "/home/u/.npmrc",
        ]);
        let cases: &[(&str, &[&str], bool)] = &[
            ("tr a-z A-Z < .en?", &["/p/.env"], false),
            ("tr a-z A-Z < .e\"\"nv", &["/p/.env"], false),
            ("base64 .e'n'v", &["/p/.env"], false),
            ("base64 '.en?'", &[], false),
            ("base64 .e[n]v", &["/p/.env"], false),
            ("base64 .e[!x]v", &["/p/.env"], false),
            ("base64 .e[[:lower:]]v", &["/p/.env"], false),
            ("base64 *", &["/p/a.txt", "/p/b.txt", "/p/sub"], false),
            ("base64 .e{nv,nvrc}", &["/p/.env", "/p/.envrc"], false),
            ("base64 */.env", &["/p/sub/.env"], false),
            ("base64 ~/.npmrc", &["/home/u/.npmrc"], false),
            (
                "cd sub && base64 .env",
                &["/p/sub", "/p/sub/.env", "/p/.env"],
                false,
            ),
            ("base64 $F", &[], true),
            ("base64 $(echo .env)", &["/p/.env"], true),
            ("od -c /proc/self/fd/3", &[], true),
            ("od -c /dev/fd/3", &[], true),
            ("od -c /proc/1/root/p/.env", &["/p/.env"], true),
            ("od -c /proc/self/cwd/.env", &[], true),
            ("dd if=.env", &["/p/.env"], false),
            ("openssl base64 -in .env", &["/p/.env"], false),
            ("base64 --input=.env", &["/p/.env"], false),
            ("base64 nothing", &[], false),
            ("tr a-z A-Z <<< x; base64 'a b' (", &[], true),
        ];
        for (command, want, unknown) in cases {
            let (mut got, unk) = named(command, &fake);
            got.sort();
            let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            want.sort();
            if command.ends_with('(') {
                // The lexer refuses it: the split reading, any file meant.
                assert!(unk, "{command}");
                continue;
            }
            assert_eq!(got, want, "{command}");
            assert_eq!(unk, *unknown, "{command}");
        }
    }

    #[test]
    fn globs_match_like_bash() {
        for (p, n, want) in [
            ("*", "a", true),
            ("*", "", true),
            ("a*b", "axxb", true),
            ("a*b", "axxc", false),
            ("?", "ab", false),
            ("[a-c]x", "bx", true),
            ("[!a-c]x", "bx", false),
            ("\\*", "*", true),
            ("\\*", "a", false),
            ("[", "[", true),
            ("*.e?v", "x.env", true),
        ] {
            assert_eq!(fnmatch(p, n), want, "{p} {n}");
        }
    }

    #[test]
    fn git_reads_name_their_objects() {
        let u = file_use("git -C sub show HEAD~1:.env | xxd");
        assert_eq!(
            u.git,
            [GitRead {
                repo: vec!["-C".into(), "sub".into()],
                objects: vec!["HEAD~1:.env".into()],
            }]
        );
        let u = file_use("git log -p | rev");
        assert_eq!(u.git, [GitRead::default()]);
        let u = file_use("git cat-file --batch < list | rev");
        assert_eq!(u.git[0].objects, Vec::<String>::new());
    }
}
