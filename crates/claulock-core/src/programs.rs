//! What ClauLock knows about programs, as data.
//!
//! These lists decide which programs a secret may never flow into, whatever
//! its allowlists say, and how to see through wrappers such as `sudo` or
//! `env` to the program that really receives a value. A secret can lift a
//! program out of the first three lists with `allow_revealing` in its policy
//! (for instance a token that `printf` pipes into a login command).

/// Programs that print their arguments, input or environment.
pub const REVEALERS: &[&str] = &[
    "echo", "printf", "print", "cat", "tee", "env", "printenv", "export", "set", "declare",
    "typeset", "local", "readonly", "yes", "logger", "wall", "write", "less", "more", "most",
    "bat", "batcat", "nl", "tac", "head", "tail", "column", "compgen", "alias", "hash",
];

/// Programs that encode, transform or slice what they get: the output is the
/// value in a form that a scrubber may not know.
pub const TRANSFORMERS: &[&str] = &[
    "base64",
    "base32",
    "basenc",
    "uuencode",
    "xxd",
    "od",
    "hexdump",
    "hd",
    "rev",
    "tr",
    "fold",
    "cut",
    "sed",
    "awk",
    "gawk",
    "mawk",
    "nawk",
    "iconv",
    "openssl",
    "gpg",
    "gzip",
    "gunzip",
    "bzip2",
    "xz",
    "zstd",
    "lz4",
    "compress",
    "dd",
    "sort",
    "uniq",
    "paste",
    "split",
    "strings",
    "expand",
    "unexpand",
    "fmt",
    "pr",
    "shuf",
    "jq",
    "yq",
    "gojq",
    "md5sum",
    "sha1sum",
    "sha224sum",
    "sha256sum",
    "sha384sum",
    "sha512sum",
    "b2sum",
    "cksum",
    "sum",
    "shasum",
    "rot13",
    "caesar",
    "recode",
];

/// Programs that may not read the output of a command holding a secret:
/// they would turn a value that an endpoint echoed back into a form the
/// scrubber may not know. Narrower than [`TRANSFORMERS`] on purpose:
/// `curl … | jq .login` and `| grep`, `| head` stay usable.
pub const ENCODERS: &[&str] = &[
    "base64", "base32", "basenc", "uuencode", "xxd", "od", "hexdump", "hd", "rev", "tr", "fold",
    "cut", "sed", "awk", "gawk", "mawk", "nawk", "iconv", "openssl", "gpg", "gzip", "bzip2", "xz",
    "zstd", "lz4", "compress", "dd", "rot13", "caesar", "recode", "split",
];

/// Programs and keywords that compare or measure a value: each answer leaks
/// a little, and a loop of them leaks it all.
pub const ORACLES: &[&str] = &[
    "test", "[", "[[", "((", "expr", "let", "grep", "egrep", "fgrep", "rg", "ag", "ack", "look",
    "cmp", "diff", "comm", "wc", "case",
];

/// Interpreters, with the flags that make them run code given inline.
/// A value that flows into an interpreter through such a flag, or through
/// its standard input, is refused: the code could print it in any form.
pub const INTERPRETERS: &[(&str, &[&str])] = &[
    ("sh", &["-c"]),
    ("bash", &["-c"]),
    ("zsh", &["-c"]),
    ("dash", &["-c"]),
    ("ksh", &["-c"]),
    ("mksh", &["-c"]),
    ("fish", &["-c", "--command"]),
    ("busybox", &["sh", "ash"]),
    ("python", &["-c"]),
    ("python2", &["-c"]),
    ("python3", &["-c"]),
    ("pypy", &["-c"]),
    ("pypy3", &["-c"]),
    ("node", &["-e", "--eval", "-p", "--print"]),
    ("nodejs", &["-e", "--eval", "-p", "--print"]),
    ("deno", &["eval"]),
    ("bun", &["-e", "--eval", "-p", "--print"]),
    ("perl", &["-e", "-E"]),
    ("ruby", &["-e"]),
    ("php", &["-r"]),
    ("lua", &["-e"]),
    ("luajit", &["-e"]),
    ("Rscript", &["-e"]),
    ("osascript", &["-e"]),
    ("pwsh", &["-c", "-Command", "-EncodedCommand"]),
    ("powershell", &["-c", "-Command", "-EncodedCommand"]),
    ("tclsh", &[]),
    ("irb", &[]),
];

/// Programs that store what they get in a shell variable, where it can be
/// transformed later out of this analysis' sight.
pub const VARIABLE_SETTERS: &[&str] = &["read", "mapfile", "readarray", "getopts", "let"];

/// Programs whose arguments become file or directory names, which any later
/// `ls` or `pwd` prints.
pub const FILE_NAMERS: &[&str] = &[
    "touch", "mkdir", "cd", "pushd", "ln", "mv", "cp", "install", "mkfifo", "mknod", "rename",
];

/// Builtins that run their arguments as shell code.
pub const CODE_BUILTINS: &[&str] = &["eval", "source", ".", "trap", "mapfile", "readarray"];

/// Environment variables that change which program runs or where it
/// connects: setting one on a command that receives a secret is refused.
pub const DANGEROUS_ENV: &[&str] = &[
    "PATH",
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "DYLD_INSERT_LIBRARIES",
    "DYLD_LIBRARY_PATH",
    "BASH_ENV",
    "ENV",
    "PYTHONPATH",
    "PYTHONSTARTUP",
    "NODE_OPTIONS",
    "PERL5OPT",
    "RUBYOPT",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_PROXY_COMMAND",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_PARAMETERS",
    "CURL_HOME",
    "WGETRC",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "all_proxy",
    "ftp_proxy",
    "FTP_PROXY",
    "SOCKS_PROXY",
];

/// Wrappers that run another program: name, options that take a value, and
/// how many operands come before the wrapped program.
struct Wrapper {
    name: &'static str,
    short_with_value: &'static str,
    long_with_value: &'static [&'static str],
    leading_operands: usize,
    /// `NAME=value` operands before the program are assignments (env).
    takes_assignments: bool,
}

const WRAPPERS: &[Wrapper] = &[
    Wrapper {
        name: "env",
        short_with_value: "uCP",
        long_with_value: &["--unset", "--chdir"],
        leading_operands: 0,
        takes_assignments: true,
    },
    Wrapper {
        name: "command",
        short_with_value: "",
        long_with_value: &[],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "builtin",
        short_with_value: "",
        long_with_value: &[],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "exec",
        short_with_value: "a",
        long_with_value: &[],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "time",
        short_with_value: "fo",
        long_with_value: &["--format", "--output"],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "nice",
        short_with_value: "n",
        long_with_value: &["--adjustment"],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "nohup",
        short_with_value: "",
        long_with_value: &[],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "sudo",
        short_with_value: "ugCDhprtTU",
        long_with_value: &[
            "--user",
            "--group",
            "--close-from",
            "--chdir",
            "--host",
            "--prompt",
            "--role",
            "--type",
            "--command-timeout",
            "--other-user",
        ],
        leading_operands: 0,
        takes_assignments: true,
    },
    Wrapper {
        name: "doas",
        short_with_value: "uC",
        long_with_value: &[],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "xargs",
        short_with_value: "IadEeLlnPsi",
        long_with_value: &[
            "--arg-file",
            "--delimiter",
            "--eof",
            "--replace",
            "--max-lines",
            "--max-args",
            "--max-procs",
            "--max-chars",
            "--process-slot-var",
        ],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "timeout",
        short_with_value: "sk",
        long_with_value: &["--signal", "--kill-after"],
        leading_operands: 1,
        takes_assignments: false,
    },
    Wrapper {
        name: "stdbuf",
        short_with_value: "ioe",
        long_with_value: &["--input", "--output", "--error"],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "ionice",
        short_with_value: "cnp",
        long_with_value: &["--class", "--classdata", "--pid"],
        leading_operands: 0,
        takes_assignments: false,
    },
    Wrapper {
        name: "unbuffer",
        short_with_value: "",
        long_with_value: &[],
        leading_operands: 0,
        takes_assignments: false,
    },
];

/// Options of wrappers that change what runs in ways this analysis does not
/// follow (`env -S` splits a string into a new command line).
const OPAQUE_WRAPPER_OPTIONS: &[(&str, &str)] = &[("env", "-S"), ("env", "--split-string")];

use crate::shell::{DYNAMIC_MARK, PLACEHOLDER_MARK};

/// The basename of a program word, as allowlists name programs.
///
/// A relative path (`./curl`, `bin/curl`) keeps its path, so that a script
/// the agent wrote cannot pass for an allowlisted program.
pub fn program_name(word: &str) -> &str {
    if word.starts_with('/') {
        word.rsplit('/').next().unwrap_or(word)
    } else {
        word
    }
}

/// Who receives each word of a simple command, seeing through wrappers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Resolution {
    /// For each word index, the program that receives it.
    pub owner: Vec<Option<String>>,
    /// Index of the word naming the effective program, if known.
    pub program_index: Option<usize>,
    /// Indices of `NAME=value` words a wrapper (`env`, `sudo`) turns into
    /// the program's environment.
    pub env_assignments: Vec<usize>,
    /// Wrappers seen, outermost first.
    pub wrappers: Vec<String>,
}

impl Resolution {
    /// The effective program's name, if it is known.
    pub(crate) fn program(&self) -> Option<&str> {
        self.program_index
            .and_then(|i| self.owner.get(i))
            .and_then(|o| o.as_deref())
    }
}

/// Resolves the effective program of a command whose words are given as
/// literal text (`None` for a word with an expansion or a placeholder).
pub(crate) fn resolve(words: &[Option<String>]) -> Resolution {
    let mut owner = vec![None; words.len()];
    let mut env_assignments = Vec::new();
    let mut wrappers = Vec::new();
    let mut i = 0;
    loop {
        let Some(Some(word)) = words.get(i) else {
            return Resolution {
                owner,
                program_index: None,
                env_assignments,
                wrappers,
            };
        };
        if word.contains([DYNAMIC_MARK, PLACEHOLDER_MARK]) {
            return Resolution {
                owner,
                program_index: None,
                env_assignments,
                wrappers,
            };
        }
        let name = program_name(word).to_owned();
        let Some(wrapper) = WRAPPERS.iter().find(|w| w.name == name) else {
            for o in owner.iter_mut().skip(i) {
                *o = Some(name.clone());
            }
            return Resolution {
                owner,
                program_index: Some(i),
                env_assignments,
                wrappers,
            };
        };
        owner[i] = Some(name.clone());
        wrappers.push(name.clone());
        let wrapper_index = i;
        i += 1;
        let mut operands = wrapper.leading_operands;
        while let Some(arg) = words.get(i) {
            let Some(arg) = arg else {
                break;
            };
            if arg.starts_with(DYNAMIC_MARK) && operands == 0 {
                // An expansion where an option or the program should be.
                owner[i] = Some(name.clone());
                return Resolution {
                    owner,
                    program_index: None,
                    env_assignments,
                    wrappers,
                };
            }
            if OPAQUE_WRAPPER_OPTIONS
                .iter()
                .any(|(w, o)| *w == name && (arg == o || arg.starts_with(&format!("{o}="))))
            {
                for o in owner.iter_mut().skip(i) {
                    *o = Some(name.clone());
                }
                return Resolution {
                    owner,
                    program_index: None,
                    env_assignments,
                    wrappers,
                };
            }
            if arg == "--" {
                owner[i] = Some(name.clone());
                i += 1;
                break;
            }
            if let Some(long) = arg.strip_prefix("--") {
                owner[i] = Some(name.clone());
                i += 1;
                if !long.contains('=') && wrapper.long_with_value.contains(&arg.as_str()) {
                    if i < words.len() {
                        owner[i] = Some(name.clone());
                    }
                    i += 1;
                }
                continue;
            }
            if arg.len() > 1 && arg.starts_with('-') {
                owner[i] = Some(name.clone());
                i += 1;
                let flags = &arg[1..];
                if let Some(pos) = flags.find(|c| wrapper.short_with_value.contains(c)) {
                    if pos + 1 == flags.len() {
                        if i < words.len() {
                            owner[i] = Some(name.clone());
                        }
                        i += 1;
                    }
                }
                continue;
            }
            if wrapper.takes_assignments && is_assignment_text(arg) {
                env_assignments.push(i);
                i += 1;
                continue;
            }
            if operands > 0 {
                owner[i] = Some(name.clone());
                operands -= 1;
                i += 1;
                continue;
            }
            break;
        }
        if i >= words.len() {
            // Nothing left to run: the wrapper acts alone (`env` prints the
            // environment).
            wrappers.pop();
            return Resolution {
                owner,
                program_index: Some(wrapper_index),
                env_assignments,
                wrappers,
            };
        }
    }
}

/// Fills the owner of `NAME=value` operands once the program is known.
pub(crate) fn finish_env_owners(res: &mut Resolution) {
    let program = res.program().map(str::to_owned);
    for &i in &res.env_assignments {
        res.owner[i].clone_from(&program);
    }
}

fn is_assignment_text(word: &str) -> bool {
    word.split_once('=')
        .is_some_and(|(name, _)| crate::grammar::is_valid_name(name))
}

/// Inline-code flags of an interpreter, if `program` is one.
pub(crate) fn interpreter_flags(program: &str) -> Option<&'static [&'static str]> {
    let base = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
    INTERPRETERS
        .iter()
        .find(|(name, _)| *name == program || *name == base)
        .map(|(_, flags)| *flags)
}

/// Whether the arguments of an interpreter ask it to run inline code.
pub(crate) fn runs_inline_code(flags: &[&str], args: &[Option<String>]) -> bool {
    args.iter().flatten().any(|arg| {
        flags.iter().any(|f| {
            arg == f
                || (f.len() == 2 && f.starts_with('-') && is_short_cluster_with(arg, &f[1..]))
                || arg.starts_with(&format!("{f}="))
        }) || arg == "-"
    })
}

/// `-ec` holds `c`; `--eval` does not hold `e`.
fn is_short_cluster_with(arg: &str, flag: &str) -> bool {
    arg.len() > 2
        && arg.starts_with('-')
        && !arg.starts_with("--")
        && arg[1..].bytes().all(|b| b.is_ascii_alphabetic())
        && arg[1..].contains(flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<Option<String>> {
        s.split_whitespace()
            .map(|w| Some(w.replace("$X", &DYNAMIC_MARK.to_string())))
            .collect()
    }

    #[test]
    fn resolves_through_wrappers() {
        let cases = [
            ("curl -s x", Some("curl")),
            ("/usr/bin/curl x", Some("curl")),
            ("./curl x", Some("./curl")),
            ("env -i A=1 B=2 curl x", Some("curl")),
            ("env -u HOME curl x", Some("curl")),
            ("sudo -u root -E curl x", Some("curl")),
            ("nice -n 5 timeout -s KILL 10 curl x", Some("curl")),
            ("xargs -I {} curl {}", Some("curl")),
            ("command -p curl", Some("curl")),
            ("env -S 'curl x'", None),
            ("env $X curl", None),
            ("sudo", Some("sudo")),
            ("env A=1", Some("env")),
        ];
        for (cmd, want) in cases {
            let mut r = resolve(&words(cmd));
            finish_env_owners(&mut r);
            assert_eq!(r.program(), want, "{cmd}");
        }
    }
}
