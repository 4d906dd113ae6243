//! eyeball: look at your training data and your checkpoints, in one native binary.

pub mod bench;
pub mod browse;
pub mod cli;
pub mod dataset;
pub mod files;
pub mod index;
pub mod jobs;
pub mod map;
pub mod memory;
pub mod model;
pub mod pipelines;
pub mod review;
pub mod scan;
pub mod ui;
