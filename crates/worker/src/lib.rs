//! The worker as a library: [`Application`] connects and migrates, then serves gRPC and runs
//! the consumer loop until told to stop.

mod app;
mod consumer;
mod retention;
mod signal;
mod upkeep;

pub use app::Application;
