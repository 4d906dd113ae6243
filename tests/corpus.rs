//! The bad-input corpus (issue 13): broken images, label tables, COCO and YOLO files, paths out
//! of the dataset, odd file names, sidecars, checkpoints and prediction files, each run through
//! the headless commands of the real binary. No run may panic, hang, die of a signal or show a
//! LibTorch "Internal torch error"; a run that fails names the file at fault; where the README
//! promises that the rest of a dataset opens, `eyeball info --json` still counts the good examples.

#[path = "common/corpus.rs"]
mod make;

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A command that runs longer than this on a dozen tiny images is stuck.
const DEADLINE: Duration = Duration::from_secs(60);

/// Runs of the binary at once within one test (cargo runs the tests themselves side by side).
const WORKERS: usize = 2;

/// The headless commands, and the arguments each case feeds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cmd {
    Info,
    Index,
    Scan,
    Predict,
    Check,
    LabelIssues,
    Dynamics,
    /// `scan --checkpoint FILE`: the model's embedding.
    ScanEmbedding,
    /// `label-issues --probs FILE`.
    LabelIssuesProbs,
    /// `dynamics --predictions DIR`.
    DynamicsPredictions,
}

/// Every command on a dataset.
const ALL: &[Cmd] = &[
    Cmd::Info,
    Cmd::Index,
    Cmd::Scan,
    Cmd::Predict,
    Cmd::Check,
    Cmd::LabelIssues,
    Cmd::Dynamics,
];
// Each process loads LibTorch, so a run costs a few tenths of a second: each group of cases
// goes through the commands that read its input in their own way (`scan` builds the index as
// `index` does; `check` and `dynamics` decode images and read labels as `predict` does), and
// one dataset holding every bad input of the group goes through all of them.
/// Broken image files: discovery, index and scan, and the model's own decoding.
const IMAGES: &[Cmd] = &[Cmd::Info, Cmd::Scan, Cmd::Predict];
/// Bad label tables and paths: labels are read by discovery, the scan's label conflicts and
/// the tables predict and label-issues write.
const LABELS: &[Cmd] = &[Cmd::Info, Cmd::Scan, Cmd::Predict, Cmd::LabelIssues];
/// Detection datasets have boxes, not labels to predict.
const DETECTION: &[Cmd] = &[Cmd::Info, Cmd::Scan];
/// Commands that load checkpoints and their sidecar.
const MODEL: &[Cmd] = &[
    Cmd::Predict,
    Cmd::Check,
    Cmd::LabelIssues,
    Cmd::Dynamics,
    Cmd::ScanEmbedding,
];
/// `check` uses the first and last TorchScript files of a folder and needs no word on others.
const MODEL_BUT_CHECK: &[Cmd] = &[
    Cmd::Predict,
    Cmd::LabelIssues,
    Cmd::Dynamics,
    Cmd::ScanEmbedding,
];
/// Class names matter to predictions, not to the embedding a scan reads.
const MODEL_BUT_SCAN: &[Cmd] = &[Cmd::Predict, Cmd::Check, Cmd::LabelIssues, Cmd::Dynamics];
/// Every command reads the sidecar through one function before anything else.
const SIDECAR: &[Cmd] = &[Cmd::Predict, Cmd::LabelIssues, Cmd::ScanEmbedding];
/// Commands that read prediction files made elsewhere (`label-issues --predictions` reads the
/// folder as `dynamics --predictions` does).
const PREDICTIONS: &[Cmd] = &[Cmd::LabelIssuesProbs, Cmd::DynamicsPredictions];

/// What a case must do beyond the rules every run follows.
#[derive(Clone, Debug)]
enum Expect {
    /// The dataset opens: `info --json` succeeds with this many examples, and (when `warns`)
    /// names the culprit on stderr.
    Opens { examples: usize, warns: bool },
    /// Every command mentions the culprit, whether it fails or skips it and goes on.
    Named,
    /// Only the rules every run follows.
    Survives,
}

struct Case {
    what: String,
    data: PathBuf,
    /// A folder of checkpoints with preprocess.json.
    checkpoints: PathBuf,
    /// One checkpoint file (label-issues --checkpoint, scan --checkpoint).
    checkpoint: PathBuf,
    /// --probs FILE.
    probs: Option<PathBuf>,
    /// --predictions DIR.
    predictions: Option<PathBuf>,
    commands: &'static [Cmd],
    /// Texts of which a failing run's stderr must hold one: the file at fault, by name.
    culprits: Vec<String>,
    expect: Expect,
}

/// One run of the binary.
struct Run {
    line: String,
    code: Option<i32>,
    hung: bool,
    seconds: f64,
    stdout: String,
    stderr: String,
}

/// Shared files of one test: the good checkpoints and a place for caches and outputs.
struct Bench {
    tmp: tempfile::TempDir,
    checkpoints: PathBuf,
    checkpoint: PathBuf,
    next: AtomicUsize,
}

impl Bench {
    fn new() -> Bench {
        let tmp = tempfile::tempdir().unwrap();
        let checkpoints = tmp.path().join("good_checkpoints");
        make::put(&checkpoints, "preprocess.json", make::sidecar());
        for name in ["epoch_00.pt", "epoch_01.pt"] {
            std::fs::copy(make::model("tiny.pt"), checkpoints.join(name)).unwrap();
        }
        let checkpoint = checkpoints.join("epoch_00.pt");
        Bench {
            tmp,
            checkpoints,
            checkpoint,
            next: AtomicUsize::new(0),
        }
    }

    fn dir(&self, name: &str) -> PathBuf {
        let dir = self.tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A case on a dataset with the good checkpoints.
    fn case(
        &self,
        what: &str,
        data: PathBuf,
        commands: &'static [Cmd],
        culprits: &[&str],
        expect: Expect,
    ) -> Case {
        Case {
            what: what.to_string(),
            data,
            checkpoints: self.checkpoints.clone(),
            checkpoint: self.checkpoint.clone(),
            probs: None,
            predictions: None,
            commands,
            culprits: culprits.iter().map(|s| s.to_string()).collect(),
            expect,
        }
    }

    fn args(&self, case: &Case, cmd: Cmd) -> Vec<OsString> {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let out = self.dir("out").join(format!("{k}.csv"));
        let data = &case.data;
        let probs = || case.probs.as_ref().expect("a --probs file");
        let predictions = || case.predictions.as_ref().expect("a --predictions folder");
        let mut args = match cmd {
            Cmd::Info => os(&[&"info", data, &"--json"]),
            Cmd::Index => os(&[&"index", data, &"--no-cache"]),
            Cmd::Scan => os(&[&"scan", data, &"--no-cache"]),
            Cmd::ScanEmbedding => os(&[
                &"scan",
                data,
                &"--no-cache",
                &"--checkpoint",
                &case.checkpoint,
            ]),
            Cmd::Predict => os(&[
                &"predict",
                data,
                &"--all",
                &"--no-cache",
                &"--checkpoints",
                &case.checkpoints,
            ]),
            Cmd::Check => os(&[
                &"check",
                data,
                &"--json",
                &"--overfit-examples",
                &"2",
                &"--checkpoints",
                &case.checkpoints,
            ]),
            Cmd::LabelIssues => os(&[&"label-issues", data, &"--checkpoint", &case.checkpoint]),
            Cmd::Dynamics => os(&[&"dynamics", data, &"--checkpoints", &case.checkpoints]),
            Cmd::LabelIssuesProbs => os(&[&"label-issues", data, &"--probs", probs()]),
            Cmd::DynamicsPredictions => os(&[&"dynamics", data, &"--predictions", predictions()]),
        };
        if cmd != Cmd::Info && cmd != Cmd::Check {
            args.extend(os(&[&"--out", &out]));
        }
        args
    }

    /// Runs the binary with its caches and data folder inside the bench, killed at `DEADLINE`.
    fn run(&self, args: &[OsString]) -> Run {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let logs = self.dir("logs");
        let (out_path, err_path) = (logs.join(format!("{k}.out")), logs.join(format!("{k}.err")));
        let line = args
            .iter()
            .map(|a| format!("{:?}", a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_eyeball"))
            .args(args)
            .env("XDG_CACHE_HOME", self.dir("cache"))
            .env("XDG_DATA_HOME", self.dir("data"))
            .env("EYEBALL_PROGRESS_EVERY_S", "3600")
            .env("OMP_NUM_THREADS", "1")
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .expect("failed to start eyeball");
        let mut hung = false;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if started.elapsed() > DEADLINE {
                hung = true;
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        Run {
            line,
            code: status.and_then(|s| s.code()),
            hung,
            seconds: started.elapsed().as_secs_f64(),
            stdout: read(&out_path),
            stderr: read(&err_path),
        }
    }
}

/// Problems with one run of `case`, by the rules every run follows and the case's own.
fn judge(case: &Case, cmd: Cmd, run: &Run) -> Vec<String> {
    let mut problems = Vec::new();
    let both = format!("{}\n{}", run.stdout, run.stderr);
    if run.hung {
        problems.push(format!(
            "hang: still running after {} s",
            DEADLINE.as_secs()
        ));
        return problems;
    }
    match run.code {
        None => problems.push("killed by a signal (a crash, or out of memory)".into()),
        Some(101) => problems.push("exit status 101 (a panic)".into()),
        _ => {}
    }
    for bad in [
        "panicked",
        "RUST_BACKTRACE",
        "Internal torch error",
        "Exception raised from",
    ] {
        if both.contains(bad) {
            problems.push(format!("printed {bad:?}"));
        }
    }
    // `check` exits 1 when a recipe check fails; its JSON verdicts are not an input error.
    let verdicts = cmd == Cmd::Check
        && serde_json::from_str::<serde_json::Value>(&run.stdout).is_ok_and(|v| v.is_array());
    let failed = run.code != Some(0) && !verdicts;
    let named = case
        .culprits
        .iter()
        .any(|c| run.stderr.contains(c.as_str()));
    if failed && !named {
        problems.push(format!(
            "failed without naming {}",
            case.culprits.join(" or ")
        ));
    }
    match &case.expect {
        Expect::Named if !case.culprits.iter().any(|c| both.contains(c.as_str())) => {
            problems.push(format!("never mentions {}", case.culprits.join(" or ")));
        }
        Expect::Opens { examples, warns } if cmd == Cmd::Info => {
            let counted = serde_json::from_str::<serde_json::Value>(&run.stdout)
                .ok()
                .and_then(|v| v["examples"].as_u64());
            if run.code != Some(0) || counted != Some(*examples as u64) {
                problems.push(format!(
                    "expected the dataset to open with {examples} examples, got {counted:?}"
                ));
            }
            if *warns && !named {
                problems.push(format!(
                    "opened without a warning naming {}",
                    case.culprits.join(" or ")
                ));
            }
        }
        _ => {}
    }
    problems
}

/// Runs every case through its commands, `WORKERS` at a time, and fails with every problem found.
fn run_corpus(bench: &Bench, cases: &[Case]) {
    let jobs: Vec<(usize, Cmd)> = cases
        .iter()
        .enumerate()
        .flat_map(|(i, case)| case.commands.iter().map(move |&cmd| (i, cmd)))
        .collect();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, Cmd, Run)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                while let Some(&(i, cmd)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let run = bench.run(&bench.args(&cases[i], cmd));
                    results.lock().unwrap().push((i, cmd, run));
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, cmd, _)| (*i, format!("{cmd:?}")));
    let mut report = Vec::new();
    let mut slowest = (0.0, String::new());
    for (i, cmd, run) in &results {
        let case = &cases[*i];
        if run.seconds > slowest.0 {
            slowest = (run.seconds, run.line.clone());
        }
        // Shown with --nocapture: what each case printed, for reading the messages by eye.
        let first_line = run
            .stderr
            .lines()
            .find(|l| l.starts_with("eyeball:"))
            .unwrap_or("");
        let shown: String = first_line.chars().take(220).collect();
        println!(
            "[{}] {cmd:?}: exit {:?} in {:.1} s {shown}",
            case.what, run.code, run.seconds
        );
        for problem in judge(case, *cmd, run) {
            let stderr: String = run.stderr.chars().take(1500).collect();
            report.push(format!(
                "{} / {cmd:?}: {problem}\n  $ eyeball {}\n  stderr: {stderr}",
                case.what, run.line
            ));
        }
    }
    println!(
        "{} cases, {} runs; slowest {:.1} s: {}",
        cases.len(),
        results.len(),
        slowest.0,
        slowest.1
    );
    assert!(
        report.is_empty(),
        "{} problems in the corpus:\n\n{}",
        report.len(),
        report.join("\n\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Datasets

/// `root/<class>/` for classes 0, 1, 2 with three good PNGs each: nine good examples.
fn image_folder(root: &Path) -> PathBuf {
    for class in 0..3u32 {
        for i in 0..3u32 {
            make::put(
                root,
                &format!("{class}/good_{i}.png"),
                make::png(class * 3 + i),
            );
        }
    }
    root.to_path_buf()
}

/// Nine good PNGs in ROOT (`img_0.png` ..) and `labels.csv` holding `table`.
fn flat(root: &Path, table: &str) -> PathBuf {
    for i in 0..9u32 {
        make::put(root, &format!("img_{i}.png"), make::png(100 + i));
    }
    if !table.is_empty() {
        make::put(root, "labels.csv", table);
    }
    root.to_path_buf()
}

/// The labels table of `flat`'s nine images, labels 0, 1, 2.
fn good_rows() -> String {
    let mut text = String::from("file,label\n");
    for i in 0..9 {
        text += &format!("img_{i}.png,{}\n", i % 3);
    }
    text
}

/// COCO: six good images in images/, `instances.json` from `images`, `annotations`.
fn coco(root: &Path, extra_images: &str, annotations: &str) -> PathBuf {
    for i in 0..6u32 {
        make::put(root, &format!("images/img_{i}.png"), make::png(200 + i));
    }
    let mut images: Vec<String> = (0..6)
        .map(|i| format!(r#"{{"id": {i}, "file_name": "img_{i}.png", "width": 24, "height": 20}}"#))
        .collect();
    if !extra_images.is_empty() {
        images.push(extra_images.to_string());
    }
    let mut boxes =
        vec![r#"{"id": 100, "image_id": 0, "category_id": 1, "bbox": [1, 2, 10, 8]}"#.to_string()];
    if !annotations.is_empty() {
        boxes.push(annotations.to_string());
    }
    make::put(
        root,
        "annotations/instances.json",
        format!(
            r#"{{"images": [{}], "annotations": [{}], "categories": [{{"id": 1, "name": "cat"}}, {{"id": 2, "name": "dog"}}]}}"#,
            images.join(", "),
            boxes.join(", ")
        ),
    );
    root.to_path_buf()
}

/// YOLO: six good images with one box each, `labels/img_5.txt` holding `bad_lines`.
fn yolo(root: &Path, bad_lines: &[u8]) -> PathBuf {
    for i in 0..6u32 {
        make::put(root, &format!("images/img_{i}.png"), make::png(300 + i));
        make::put(
            root,
            &format!("labels/img_{i}.txt"),
            format!("{} 0.5 0.5 0.2 0.3\n", i % 2),
        );
    }
    make::put(root, "data.yaml", "names: [cat, dog]\n");
    let mut text = b"0 0.4 0.4 0.1 0.1\n".to_vec();
    text.extend_from_slice(bad_lines);
    make::put(root, "labels/img_5.txt", text);
    root.to_path_buf()
}

#[test]
fn bad_images_never_crash_any_command() {
    let bench = Bench::new();
    let good = |name: &str| image_folder(&bench.dir(name));
    let opens = |examples| Expect::Opens {
        examples,
        warns: false,
    };
    let mut cases = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut add = |what: &str, file: &str, bytes: Vec<u8>| {
        let data = good(&what.replace(' ', "_"));
        make::put(&data, &format!("0/{file}"), &bytes);
        cases.push(bench.case(what, data, IMAGES, &[file], opens(10)));
        files.push((file.to_string(), bytes));
    };
    add("zero-byte png", "empty.png", Vec::new());
    add("truncated png", "cut.png", make::png(1)[..60].to_vec());
    add("truncated jpeg", "cut.jpg", {
        let j = make::jpeg(2);
        j[..j.len() / 2].to_vec()
    });
    add("garbage jpeg", "noise.jpg", make::garbage(4000, 3));
    add(
        "text named png",
        "notes.png",
        b"these are not pixels\n".to_vec(),
    );
    add("png named jpg", "really_png.jpg", make::png(4));
    add("jpeg named png", "really_jpeg.png", make::jpeg(5));
    add(
        "png bomb 100000x100000",
        "bomb.png",
        make::png_declaring(100_000, 100_000),
    );
    add(
        "png 16000x16000 cut after header",
        "big_cut.png",
        make::png_declaring(16_000, 16_000),
    );
    add(
        "jpeg bomb 65000x65000",
        "bomb.jpg",
        make::jpeg_declaring(65_000, 65_000),
    );
    add("bmp bomb", "bomb.bmp", make::bmp_declaring(60_000, -60_000));
    add("tiff header then garbage", "broken.tif", {
        let mut b = b"II*\x00\x08\x00\x00\x00".to_vec();
        b.extend(make::garbage(300, 6));
        b
    });
    add("webp header then garbage", "broken.webp", {
        let mut b = b"RIFF\x40\x00\x00\x00WEBPVP8 ".to_vec();
        b.extend(make::garbage(60, 7));
        b
    });
    add(
        "gif header only",
        "broken.gif",
        b"GIF89a\xff\xff\xff\xff\x00\x00\x00".to_vec(),
    );
    add("1x20000 png", "sliver.png", {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::GrayImage::from_fn(1, 20_000, |_, y| image::Luma([(y % 256) as u8]))
            .write_to(&mut bytes, image::ImageFormat::Png)
            .unwrap();
        bytes.into_inner()
    });

    // Entries with an image name that are no image files: skipped, with a warning naming them.
    let not_files = |root: &Path| {
        let made = Command::new("mkfifo")
            .arg(root.join("0/pipe.png"))
            .status()
            .unwrap();
        assert!(made.success(), "mkfifo");
        std::os::unix::fs::symlink("/dev/zero", root.join("0/zero.png")).unwrap();
        std::os::unix::fs::symlink(root.join("gone.png"), root.join("0/dangling.png")).unwrap();
        make::put(root, "0/folder.png/inner.png", make::png(9));
    };
    let odd_entries = good("odd_entries");
    not_files(&odd_entries);
    cases.push(bench.case(
        "pipe, /dev/zero and broken link named png",
        odd_entries,
        IMAGES,
        &["pipe.png", "zero.png", "dangling.png"],
        // The image inside the folder named folder.png counts.
        Expect::Opens {
            examples: 10,
            warns: true,
        },
    ));
    let only_bad = bench.dir("only_bad");
    make::put(&only_bad, "0/a.png", b"");
    make::put(&only_bad, "1/b.png", make::garbage(100, 8));
    cases.push(bench.case(
        "every image unreadable",
        only_bad,
        ALL,
        &["a.png", "b.png"],
        opens(2),
    ));

    // All of them in one dataset, through every command.
    let everything = good("every_bad_image");
    for (file, bytes) in &files {
        make::put(&everything, &format!("1/{file}"), bytes);
    }
    not_files(&everything);
    let mut culprits: Vec<&str> = files.iter().map(|(f, _)| f.as_str()).collect();
    culprits.extend(["pipe.png", "zero.png", "dangling.png"]);
    cases.push(bench.case(
        "every bad image at once",
        everything,
        ALL,
        &culprits,
        Expect::Opens {
            examples: 10 + files.len(),
            warns: true,
        },
    ));
    run_corpus(&bench, &cases);
}

#[test]
fn bad_label_tables_never_crash_and_good_rows_still_open() {
    let bench = Bench::new();
    let mut cases = Vec::new();
    let table_case = |what: &str, table: &str, culprits: &[&str], expect: Expect| {
        let data = flat(&bench.dir(&what.replace([' ', '/'], "_")), table);
        bench.case(what, data, LABELS, culprits, expect)
    };
    let opens_warned = |examples| Expect::Opens {
        examples,
        warns: true,
    };
    // A table that cannot be used at all refuses the dataset: every command fails naming it
    // (the rules every run follows), since there are no class folders to fall back on.
    let refused = Expect::Survives;
    cases.push(table_case(
        "no label column",
        "file,score\nimg_0.png,1\nimg_1.png,2\n",
        &["labels.csv"],
        opens_warned(2),
    ));
    cases.push(table_case(
        "no image column",
        "name,label\nimg_0.png,0\n",
        &["labels.csv"],
        refused.clone(),
    ));
    cases.push(table_case(
        "ragged rows",
        &(good_rows() + "img_0.png,1,extra,fields\nimg_1.png\n"),
        &["labels.csv"],
        opens_warned(9),
    ));
    cases.push(table_case(
        "empty table",
        " ",
        &["labels.csv"],
        refused.clone(),
    ));
    cases.push(table_case(
        "header only",
        "file,label\n",
        // A table of no rows: nothing to label, said of the dataset folder.
        &["labels.csv", "header_only"],
        refused.clone(),
    ));
    let garbage = flat(&bench.dir("binary_table"), "");
    make::put(&garbage, "labels.csv", make::garbage(5000, 11));
    cases.push(bench.case(
        "binary garbage table",
        garbage,
        LABELS,
        &["labels.csv"],
        refused.clone(),
    ));
    let bad_parquet = flat(&bench.dir("garbage_parquet"), "");
    make::put(&bad_parquet, "labels.parquet", make::garbage(3000, 12));
    cases.push(bench.case(
        "garbage parquet",
        bad_parquet,
        LABELS,
        &["labels.parquet"],
        refused.clone(),
    ));
    let cut_parquet = flat(&bench.dir("truncated_parquet"), "");
    let bytes = make::parquet(
        &mut polars::prelude::df!(
            "file" => (0..9).map(|i| format!("img_{i}.png")).collect::<Vec<_>>(),
            "label" => (0..9).map(|i| (i % 3).to_string()).collect::<Vec<_>>(),
        )
        .unwrap(),
    );
    make::put(&cut_parquet, "labels.parquet", &bytes[..bytes.len() / 2]);
    cases.push(bench.case(
        "truncated parquet",
        cut_parquet,
        LABELS,
        &["labels.parquet"],
        refused.clone(),
    ));
    let float_paths = flat(&bench.dir("float_paths"), "");
    make::put(
        &float_paths,
        "labels.parquet",
        make::parquet(
            &mut polars::prelude::df!(
                "file" => [0.5f64, 1.5],
                "label" => ["0", "1"],
            )
            .unwrap(),
        ),
    );
    cases.push(bench.case(
        "parquet with float paths",
        float_paths,
        LABELS,
        &["labels.parquet"],
        refused,
    ));
    let huge = "x".repeat(2 << 20);
    cases.push(table_case(
        "2 MB label",
        &(good_rows() + &format!("img_0.png,{huge}\n")),
        &["labels.csv", "epoch_00.pt", "epoch_01.pt"],
        opens_warned(9),
    ));
    cases.push(table_case(
        "label with newlines",
        "file,label\nimg_0.png,\"two\nlines\"\nimg_1.png,0\nimg_2.png,1\n",
        &["labels.csv", "epoch_00.pt", "epoch_01.pt"],
        Expect::Opens {
            examples: 3,
            warns: false,
        },
    ));
    cases.push(table_case(
        "missing files",
        &(good_rows() + "missing.png,0\nimg_99.png,1\n"),
        &["labels.csv"],
        opens_warned(9),
    ));
    let zero = flat(&bench.dir("zero_byte_table"), "");
    make::put(&zero, "labels.csv", b"");
    cases.push(bench.case(
        "zero-byte table",
        zero,
        LABELS,
        &["labels.csv"],
        Expect::Survives,
    ));
    let latin1 = flat(&bench.dir("latin1"), "");
    let mut bytes = good_rows().into_bytes();
    bytes.extend_from_slice(b"img_1.png,caf\xe9\n");
    make::put(&latin1, "labels.csv", bytes);
    cases.push(bench.case(
        "latin-1 bytes",
        latin1,
        LABELS,
        &["labels.csv"],
        Expect::Survives,
    ));
    // Every kind of bad row in one table, through every command.
    let outside = make::put(&bench.dir("outside"), "elsewhere.png", make::png(90));
    let rows = good_rows()
        + "img_0.png,1,extra,fields\nimg_1.png\nmissing.png,0\nimg_2.png,2\n,1\nimg_3.png,\n"
        + &format!("../../../../../etc/passwd,1\n{},2\n", outside.display());
    cases.push(table_case(
        "every bad row at once",
        &rows,
        &["labels.csv"],
        opens_warned(9),
    ));
    cases.last_mut().unwrap().commands = ALL;
    run_corpus(&bench, &cases);
}

#[test]
fn bad_coco_and_yolo_annotations_are_listed_and_the_rest_opens() {
    let bench = Bench::new();
    let mut cases = Vec::new();
    let warned = |examples| Expect::Opens {
        examples,
        warns: true,
    };
    let mut coco_case = |what: &str, image: &str, annotation: &str, examples| {
        let data = coco(&bench.dir(&what.replace(' ', "_")), image, annotation);
        cases.push(bench.case(what, data, DETECTION, &["instances.json"], warned(examples)));
    };
    coco_case(
        "coco string coordinate",
        "",
        r#"{"id": 101, "image_id": 1, "category_id": 1, "bbox": ["1", 2, 3, 4]}"#,
        6,
    );
    coco_case(
        "coco null coordinate",
        "",
        r#"{"id": 102, "image_id": 1, "category_id": 1, "bbox": [null, 2, 3, 4]}"#,
        6,
    );
    coco_case(
        "coco unknown ids",
        "",
        r#"{"id": 103, "image_id": 77, "category_id": 99, "bbox": [1, 2, 3, 4]}"#,
        6,
    );
    coco_case("coco annotation of wrong type", "", r#"[1, 2, 3]"#, 6);
    coco_case(
        "coco image with wrong types",
        r#"{"id": [7], "file_name": 5, "width": "wide"}"#,
        "",
        6,
    );
    coco_case(
        "coco image outside the dataset",
        r#"{"id": 8, "file_name": "../../../../../../etc/passwd", "width": 10, "height": 10}"#,
        "",
        6,
    );
    coco_case(
        "coco image absolute path",
        r#"{"id": 9, "file_name": "/etc/hostname", "width": 10, "height": 10}"#,
        "",
        6,
    );
    let not_json = coco(&bench.dir("coco_not_json"), "", "");
    make::put(
        &not_json,
        "annotations/instances.json",
        "{\"images\": [ this is not json",
    );
    cases.push(bench.case(
        "coco not json",
        not_json,
        DETECTION,
        &["instances.json"],
        Expect::Survives,
    ));
    let nested = coco(&bench.dir("coco_nested"), "", "");
    make::put(
        &nested,
        "annotations/instances.json",
        "[".repeat(100_000) + &"]".repeat(100_000),
    );
    cases.push(bench.case(
        "json nested 100000 deep",
        nested,
        DETECTION,
        &["instances.json"],
        Expect::Survives,
    ));
    let wrong_shape = coco(&bench.dir("coco_wrong_shape"), "", "");
    make::put(
        &wrong_shape,
        "annotations/instances.json",
        r#"{"images": {"a": 1}, "annotations": 5, "categories": "none"}"#,
    );
    cases.push(bench.case(
        "coco fields of wrong type",
        wrong_shape,
        DETECTION,
        &["instances.json"],
        Expect::Survives,
    ));

    let mut yolo_case = |what: &str, lines: &[u8]| {
        let data = yolo(&bench.dir(&what.replace(' ', "_")), lines);
        cases.push(bench.case(what, data, DETECTION, &["img_5.txt"], warned(6)));
    };
    yolo_case("yolo words", b"cat 0.5 0.5 0.1 0.1\n");
    yolo_case("yolo too few values", b"0 0.5 0.5\n");
    yolo_case("yolo nan and inf", b"0 nan 0.5 inf 0.1\n");
    yolo_case(
        "yolo negative and huge class",
        b"-1 0.5 0.5 0.1 0.1\n99999999999999 0.5 0.5 0.1 0.1\n",
    );
    yolo_case("yolo outside 0..1", b"0 5 5 3 3\n");
    yolo_case("yolo binary garbage", &make::garbage(500, 13));
    let yaml = yolo(&bench.dir("yolo_bad_yaml"), b"");
    make::put(
        &yaml,
        "data.yaml",
        "names: {a: [1, 2], b: !!binary AAAA\n  - : -\n",
    );
    cases.push(bench.case(
        "yolo bad data.yaml",
        yaml,
        DETECTION,
        &["data.yaml"],
        warned(6),
    ));
    run_corpus(&bench, &cases);
}

#[test]
fn paths_out_of_the_dataset_and_symlink_loops_are_refused() {
    let bench = Bench::new();
    let outside = bench.dir("outside");
    let outside_png = make::put(&outside, "elsewhere.png", make::png(50));
    let mut cases = Vec::new();
    let warned = Expect::Opens {
        examples: 9,
        warns: true,
    };
    for (what, raw) in [
        (
            "table dotdot path",
            "../../../../../../../etc/passwd".to_string(),
        ),
        ("table absolute path", "/etc/hostname".to_string()),
        (
            "table absolute image outside",
            outside_png.display().to_string(),
        ),
        (
            "table dotdot image outside",
            "../outside/elsewhere.png".to_string(),
        ),
    ] {
        let data = flat(
            &bench.dir(&what.replace(' ', "_")),
            &(good_rows() + &format!("{raw},1\n")),
        );
        let name = Path::new(&raw)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        cases.push(bench.case(what, data, LABELS, &[name.as_str()], warned.clone()));
    }
    let dotdot_class = image_folder(&bench.dir("symlink_loop"));
    std::os::unix::fs::symlink(".", dotdot_class.join("0/loop")).unwrap();
    std::os::unix::fs::symlink("..", dotdot_class.join("1/up")).unwrap();
    cases.push(bench.case(
        "symlink loops",
        dotdot_class,
        ALL,
        &["loop", "up"],
        warned.clone(),
    ));
    // A class folder that is a link to a folder elsewhere is a usual way to build a dataset.
    let linked = image_folder(&bench.dir("linked_class"));
    let shared = bench.dir("shared_class");
    for i in 0..2 {
        make::put(&shared, &format!("s_{i}.png"), make::png(60 + i));
    }
    std::os::unix::fs::symlink(&shared, linked.join("2/more")).unwrap();
    cases.push(bench.case(
        "class linked from outside",
        linked,
        LABELS,
        &["more"],
        Expect::Opens {
            examples: 11,
            warns: false,
        },
    ));
    run_corpus(&bench, &cases);
}

fn os(args: &[&dyn AsRef<OsStr>]) -> Vec<OsString> {
    args.iter().map(|a| a.as_ref().to_os_string()).collect()
}

/// File names with a newline, comma, quote and leading `=` come back exactly from
/// `eyeball index --out x.csv` and `eyeball predict --out x.csv`, read with the csv crate.
#[test]
fn odd_file_names_round_trip_through_csv() {
    let bench = Bench::new();
    let data = bench.dir("odd_names");
    let names = [
        "0/line\nbreak.png",
        "0/comma,name.png",
        "0/quote\"name.png",
        "1/=SUM(A1).png",
        "1/'apostrophe.png",
        "1/ leading space.png",
        "2/tab\tname.png",
        "2/sémantique 名前.png",
        "2/-dash.png",
        "=1+1/plain.png",
    ];
    for (k, name) in names.iter().enumerate() {
        make::put(&data, name, make::png(400 + k as u32));
    }
    let mut expected: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    expected.sort();
    let out = bench.dir("out");
    let read_paths = |csv: &Path| -> Vec<String> {
        let mut reader = csv::Reader::from_path(csv).unwrap();
        let headers = reader.headers().unwrap().clone();
        let column = headers.iter().position(|h| h == "path").unwrap();
        let mut paths: Vec<String> = reader
            .records()
            .map(|r| r.unwrap()[column].to_string())
            .collect();
        paths.sort();
        paths.dedup();
        paths
    };
    let index = out.join("index.csv");
    let run = bench.run(&os(&[&"index", &data, &"--no-cache", &"--out", &index]));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(read_paths(&index), expected);

    let predictions = out.join("predictions.csv");
    let mut sidecar: serde_json::Value = serde_json::from_str(&make::sidecar()).unwrap();
    sidecar["class_names"] =
        serde_json::json!(["0", "1", "2", "=1+1", "4", "5", "6", "7", "8", "9"]);
    let checkpoints = bench.dir("odd_checkpoints");
    make::put(&checkpoints, "preprocess.json", sidecar.to_string());
    std::fs::copy(make::model("tiny.pt"), checkpoints.join("tiny.pt")).unwrap();
    let run = bench.run(&os(&[
        &"predict",
        &data,
        &"--all",
        &"--no-cache",
        &"--checkpoints",
        &checkpoints,
        &"--out",
        &predictions,
    ]));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(read_paths(&predictions), expected);
}

#[test]
fn bad_checkpoints_and_sidecars_are_named_never_internal() {
    let bench = Bench::new();
    let data = image_folder(&bench.dir("data"));
    let mut cases = Vec::new();
    // A folder holding preprocess.json (unless `sidecar` is None) and `files`.
    let folder = |what: &str, sidecar: Option<&[u8]>, files: &[(&str, Vec<u8>)]| -> PathBuf {
        let dir = bench.dir(&what.replace(' ', "_"));
        if let Some(text) = sidecar {
            make::put(&dir, "preprocess.json", text);
        }
        for (name, bytes) in files {
            make::put(&dir, name, bytes);
        }
        dir
    };
    let good_sidecar = make::sidecar().into_bytes();
    let fixture = |name: &str| std::fs::read(make::model(name)).unwrap();
    let mut add = |what: &str, commands, dir: PathBuf, file: &str, culprit: &str, expect| {
        let mut case = bench.case(what, data.clone(), commands, &[culprit], expect);
        case.checkpoint = dir.join(file);
        case.checkpoints = dir;
        cases.push(case);
    };
    for (what, file, bytes) in [
        (
            "truncated torchscript",
            "truncated.pt",
            fixture("truncated.pt"),
        ),
        (
            "ordered dict state_dict",
            "state_dict.pt",
            fixture("state_dict.pt"),
        ),
        (
            "random bytes named pt",
            "random.pt",
            make::garbage(20_000, 21),
        ),
        ("zero-byte pt", "empty.pt", Vec::new()),
        ("zip that is not a model", "archive.pt", make::zip_of_text()),
        ("torch.export pt2", "model.pt2", fixture("model.pt2")),
        ("dict of two tensors", "bad_out.pt", fixture("bad_out.pt")),
        (
            "output not logits",
            "not_logits.pt",
            fixture("not_logits.pt"),
        ),
        ("nan logits", "nan.pt", fixture("nan.pt")),
        (
            "rgb model on gray input",
            "rgb_view.pt",
            fixture("rgb_view.pt"),
        ),
        (
            "weights only",
            "weights.safetensors",
            fixture("tiny_weights.safetensors"),
        ),
    ] {
        let dir = folder(what, Some(&good_sidecar), &[(file, bytes)]);
        add(what, MODEL, dir, file, file, Expect::Named);
    }
    let mixed = folder(
        "good and bad checkpoints",
        Some(&good_sidecar),
        &[
            ("a_good.pt", fixture("tiny.pt")),
            ("b_bad.pt", make::garbage(5000, 22)),
        ],
    );
    let (good, bad) = ("good and bad checkpoints", "b_bad.pt");
    add(
        good,
        MODEL_BUT_CHECK,
        mixed.clone(),
        bad,
        bad,
        Expect::Named,
    );
    add(good, &[Cmd::Check], mixed, bad, bad, Expect::Survives);
    let empty = bench.dir("no_checkpoints");
    add(
        "empty folder",
        MODEL,
        empty,
        "none.pt",
        "no_checkpoints",
        Expect::Named,
    );
    let sidecar_only = folder("sidecar only", Some(&good_sidecar), &[]);
    add(
        "sidecar only",
        MODEL,
        sidecar_only,
        "none.pt",
        "sidecar_only",
        Expect::Named,
    );

    let tiny = fixture("tiny.pt");
    let with = |edit: &dyn Fn(&mut serde_json::Value)| -> Vec<u8> {
        let mut value: serde_json::Value = serde_json::from_slice(&good_sidecar).unwrap();
        edit(&mut value);
        value.to_string().into_bytes()
    };
    for (what, sidecar) in [
        ("sidecar not json", b"{ \"channels\": 1,".to_vec()),
        ("sidecar zero bytes", Vec::new()),
        ("sidecar binary garbage", make::garbage(700, 23)),
        ("sidecar is a list", b"[1, 2, 3]".to_vec()),
        ("sidecar channels 7", with(&|v| v["channels"] = 7.into())),
        (
            "sidecar input size 0",
            with(&|v| v["input_size"] = serde_json::json!([0, 28])),
        ),
        (
            "sidecar input size huge",
            with(&|v| v["input_size"] = serde_json::json!([100000, 100000])),
        ),
        (
            "sidecar input size negative",
            with(&|v| v["input_size"] = serde_json::json!([-28, 28])),
        ),
        (
            "sidecar mean too short",
            with(&|v| v["mean"] = serde_json::json!([])),
        ),
        (
            "sidecar std zero",
            with(&|v| v["std"] = serde_json::json!([0.0])),
        ),
        (
            "sidecar three class names",
            with(&|v| v["class_names"] = serde_json::json!(["0", "1", "2"])),
        ),
        (
            "sidecar class names numbers",
            with(&|v| v["class_names"] = serde_json::json!([0, 1, 2])),
        ),
        (
            "sidecar resize unknown",
            with(&|v| v["resize"] = "sideways".into()),
        ),
        ("sidecar scale zero", with(&|v| v["scale"] = 0.into())),
        (
            "sidecar deeply nested",
            ("[".repeat(50_000) + &"]".repeat(50_000)).into_bytes(),
        ),
    ] {
        let dir = folder(what, Some(&sidecar), &[("tiny.pt", tiny.clone())]);
        let commands = if what.contains("class names") {
            MODEL_BUT_SCAN
        } else {
            SIDECAR
        };
        add(
            what,
            commands,
            dir,
            "tiny.pt",
            "preprocess.json",
            Expect::Named,
        );
    }
    let sidecar_dir = folder("sidecar is a folder", None, &[("tiny.pt", tiny.clone())]);
    std::fs::create_dir_all(sidecar_dir.join("preprocess.json")).unwrap();
    add(
        "sidecar is a folder",
        SIDECAR,
        sidecar_dir,
        "tiny.pt",
        "preprocess.json",
        Expect::Named,
    );
    // A folder named like a checkpoint is not one; only `--checkpoint` naming it must say so.
    let with_dir = folder(
        "folder named pt",
        Some(&good_sidecar),
        &[("a.pt", tiny.clone())],
    );
    std::fs::create_dir_all(with_dir.join("epoch_9.pt")).unwrap();
    add(
        "folder named pt",
        MODEL,
        with_dir,
        "epoch_9.pt",
        "epoch_9.pt",
        Expect::Survives,
    );
    run_corpus(&bench, &cases);
}

#[test]
fn bad_prediction_files_are_named_never_read_past_their_end() {
    let bench = Bench::new();
    let data = image_folder(&bench.dir("data"));
    let mut cases = Vec::new();
    let (n, c) = (9, 3);
    let mut add = |what: &str, name: &str, bytes: Vec<u8>| {
        let dir = bench.dir(&what.replace(' ', "_"));
        // One good epoch beside the bad one, so the folder is not refused for being empty.
        make::put(
            &dir,
            "epoch_0.npy",
            make::npy("<f4", false, "(9, 3)", &make::probs_f32(n, c)),
        );
        let file = make::put(&dir, &format!("epoch_1_{name}"), bytes);
        let mut case = bench.case(what, data.clone(), PREDICTIONS, &[name], Expect::Named);
        case.probs = Some(file);
        case.predictions = Some(dir);
        cases.push(case);
    };
    add(
        "npy wrong shape",
        "shape.npy",
        make::npy("<f4", false, "(9, 4)", &make::probs_f32(n, 4)),
    );
    add(
        "npy one dimension",
        "flat.npy",
        make::npy("<f4", false, "(27,)", &make::probs_f32(n, c)),
    );
    add(
        "npy int64",
        "ints.npy",
        make::npy("<i8", false, "(9, 3)", &[1u8; 9 * 3 * 8]),
    );
    add(
        "npy complex",
        "complex.npy",
        make::npy("<c8", false, "(9, 3)", &[0u8; 9 * 3 * 8]),
    );
    add(
        "npy object",
        "object.npy",
        make::npy("|O", false, "(9, 3)", &[0u8; 9 * 3 * 8]),
    );
    add(
        "npy big endian",
        "big_endian.npy",
        make::npy(">f4", false, "(9, 3)", &make::probs_f32(n, c)),
    );
    add(
        "npy fortran order",
        "fortran.npy",
        make::npy("<f4", true, "(9, 3)", &make::probs_f32(n, c)),
    );
    add(
        "npy truncated",
        "truncated.npy",
        make::npy("<f4", false, "(9, 3)", &make::probs_f32(n, c)[..20]),
    );
    add(
        "npy huge shape",
        "huge.npy",
        make::npy("<f8", false, "(100000000000, 3)", &[0u8; 64]),
    );
    add(
        "npy negative shape",
        "negative.npy",
        make::npy("<f4", false, "(-9, 3)", &[0u8; 64]),
    );
    add(
        "npy bad header",
        "header.npy",
        make::npy("<f4", false, "(9, three)", &[0u8; 108]),
    );
    add("npy garbage", "garbage.npy", make::garbage(400, 31));
    add("npy zero bytes", "empty.npy", Vec::new());
    add(
        "npy nan values",
        "nan.npy",
        make::npy("<f4", false, "(9, 3)", &f32::NAN.to_le_bytes().repeat(27)),
    );
    add("npy header length huge", "long_header.npy", {
        let mut b = b"\x93NUMPY\x02\x00".to_vec();
        b.extend_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
        b.extend_from_slice(b"{'descr': '<f4'");
        b
    });
    add(
        "csv probs ragged",
        "ragged.csv",
        b"path,0,1,2\n0/good_0.png,0.8,0.1\n0/good_1.png,0.8,0.1,0.1,0.5\n".to_vec(),
    );
    add(
        "csv probs no class columns",
        "nocols.csv",
        b"path,x\n0/good_0.png,1\n".to_vec(),
    );
    add("csv probs garbage", "garbage.csv", make::garbage(900, 32));
    add(
        "parquet probs garbage",
        "garbage.parquet",
        make::garbage(900, 33),
    );
    run_corpus(&bench, &cases);
}

// ---------------------------------------------------------------------------------------------
// A full disk while saving review decisions

/// A tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `kib` KiB at `dir`; `None` where that is not allowed (not root, a
    /// container without the capability).
    fn mount(dir: &Path, kib: usize) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Decisions made while the review folder's disk is full stay in memory, the error names the
/// review file, and once space is freed the next decision saves every one of them. A real full
/// disk (a 256 KiB tmpfs) where the test may mount one; src/review's unit tests simulate the
/// failure everywhere else.
#[test]
fn review_decisions_survive_a_full_disk() {
    use eyeball::review::{Decision, ReviewEntry, ReviewStore};
    let tmp = tempfile::tempdir().unwrap();
    let mount_point = tmp.path().join("disk");
    std::fs::create_dir_all(&mount_point).unwrap();
    let Some(_disk) = Tmpfs::mount(&mount_point, 256) else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let reviews = mount_point.join("eyeball/reviews");
    let root = tmp.path().join("dataset");
    let (mut store, _) = ReviewStore::open(&reviews, &root).unwrap();
    let entry = |i: usize| ReviewEntry {
        path: format!("class/{}_{i:05}.png", "long_name_".repeat(20)),
        given: Some("cat".into()),
        decision: Decision::Relabel,
        new_label: Some("dog".into()),
        score: Some(i as f64),
        timestamp_ms: 0,
    };
    // Leave about 40 KiB free.
    let filler = mount_point.join("filler");
    std::fs::write(&filler, vec![0u8; 216 * 1024]).unwrap();
    let mut recorded = 0;
    let error = loop {
        assert!(recorded < 2000, "the disk never filled");
        match store.record(entry(recorded)) {
            Ok(()) => recorded += 1,
            Err(e) => break e,
        }
    };
    recorded += 1;
    let file_name = store
        .file()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        error.to_string().contains(&file_name),
        "the error names the review file {file_name}: {error}"
    );
    // More decisions on the full disk: each one fails, and each one is kept.
    for _ in 0..5 {
        assert!(store.record(entry(recorded)).is_err(), "the disk is full");
        recorded += 1;
    }
    assert_eq!(store.len(), recorded, "every decision is kept in memory");
    std::fs::remove_file(&filler).unwrap();
    store.record(entry(recorded)).unwrap();
    recorded += 1;
    drop(store);
    let (reopened, problem) = ReviewStore::open(&reviews, &root).unwrap();
    assert!(problem.is_none(), "{problem:?}");
    assert_eq!(
        reopened.len(),
        recorded,
        "every decision was saved once space was freed"
    );
    for i in 0..recorded {
        assert_eq!(
            reopened.get(&entry(i).path).and_then(|e| e.score),
            Some(i as f64)
        );
    }
}
