//! Parses the command line, then starts the GUI or runs a headless command.

use clap::Parser;
use eyeball::cli::{
    BenchCommand, Cli, Command, DynamicsSource, LabelIssuesSource, PredictArgs,
    demo_checkpoints_dir, demo_dataset_dir, index_cache, run_bench_duplicates, run_bench_index,
    run_bench_inference, run_bench_near_duplicates, run_check, run_dynamics, run_index, run_info,
    run_label_issues, run_map, run_predict, run_scan,
};
use eyeball::ui::app::{AppOptions, run_native};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Info { path, json }) => run_info(&path, json),
        Some(Command::Index {
            path,
            out,
            no_cache,
            shard,
            index_shards,
            checkpoints,
            predictions,
        }) => run_index(
            &path,
            &out,
            index_cache(no_cache, index_shards.as_deref()),
            shard,
            match (&checkpoints, &predictions) {
                (Some(dir), _) => Some(DynamicsSource::Checkpoints(dir)),
                (None, Some(dir)) => Some(DynamicsSource::Predictions(dir)),
                (None, None) => None,
            },
        ),
        Some(Command::Bench(BenchCommand::Index { path, limit })) => run_bench_index(&path, limit),
        Some(Command::Predict {
            path,
            checkpoints,
            batch,
            all,
            seed,
            out,
            preprocess,
            no_cache,
        }) => run_predict(PredictArgs {
            path: &path,
            checkpoints: &checkpoints,
            batch,
            all,
            seed,
            out: &out,
            preprocess: preprocess.as_deref(),
            no_cache,
        }),
        Some(Command::Check {
            path,
            checkpoints,
            json,
            preprocess,
            overfit_examples,
            overfit_checkpoint,
        }) => run_check(
            &path,
            &checkpoints,
            json,
            preprocess.as_deref(),
            &eyeball::model::OverfitSettings {
                examples: overfit_examples,
                checkpoint: overfit_checkpoint,
            },
        ),
        Some(Command::Bench(BenchCommand::Inference {
            path,
            checkpoint,
            batch_size,
            threads,
            preprocess,
        })) => run_bench_inference(
            &path,
            &checkpoint,
            batch_size,
            threads,
            preprocess.as_deref(),
        ),
        Some(Command::Scan(options)) => match run_scan(&options) {
            Ok(true) => return std::process::ExitCode::from(2),
            other => other.map(|_| ()),
        },
        Some(Command::LabelIssues {
            path,
            checkpoint,
            probs,
            checkpoints,
            predictions,
            split,
            method,
            out,
            preprocess,
        }) => {
            let source = match (&checkpoint, &probs, &checkpoints, &predictions) {
                (_, Some(probs), ..) => LabelIssuesSource::Probs(probs),
                (_, _, Some(dir), _) => {
                    LabelIssuesSource::Dynamics(DynamicsSource::Checkpoints(dir), split.as_deref())
                }
                (.., Some(dir)) => {
                    LabelIssuesSource::Dynamics(DynamicsSource::Predictions(dir), split.as_deref())
                }
                (Some(file), ..) => LabelIssuesSource::Checkpoint(file),
                (None, None, None, None) => unreachable!("clap requires one of them"),
            };
            run_label_issues(
                &path,
                source,
                method.as_deref(),
                &out,
                preprocess.as_deref(),
            )
        }
        Some(Command::Dynamics {
            path,
            checkpoints,
            predictions,
            split,
            out,
            preprocess,
        }) => {
            let source = match (&checkpoints, &predictions) {
                (Some(dir), _) => DynamicsSource::Checkpoints(dir),
                (None, Some(dir)) => DynamicsSource::Predictions(dir),
                (None, None) => unreachable!("clap requires one of them"),
            };
            run_dynamics(&path, source, split.as_deref(), &out, preprocess.as_deref())
        }
        Some(Command::Map {
            path,
            checkpoint,
            split,
            out,
            preprocess,
            no_cache,
        }) => run_map(
            &path,
            checkpoint.as_deref(),
            split.as_deref(),
            &out,
            preprocess.as_deref(),
            no_cache,
        ),
        Some(Command::Bench(BenchCommand::Duplicates {
            path,
            key,
            mirror,
            pairs_out,
            key_out,
            max_distance,
        })) => run_bench_duplicates(
            &path,
            &key,
            mirror,
            pairs_out.as_deref(),
            key_out.as_deref(),
            max_distance,
        ),
        Some(Command::Bench(BenchCommand::NearDuplicates { n, max_distance })) => {
            run_bench_near_duplicates(n, max_distance)
        }
        None => {
            let options = match cli.path {
                Some(path) => AppOptions {
                    dataset: Some(path),
                    checkpoints: cli.checkpoints,
                    index_cache: index_cache(false, cli.index_shards.as_deref()),
                    ..Default::default()
                },
                None => AppOptions {
                    dataset: Some(demo_dataset_dir()),
                    checkpoints: Some(cli.checkpoints.unwrap_or_else(demo_checkpoints_dir)),
                    ..Default::default()
                },
            };
            run_native(options).map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eyeball: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
