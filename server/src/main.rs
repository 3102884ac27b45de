//! The `berth` binary.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;
use server::config::{Cli, Command, Config};
use server::{Application, telemetry};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_args(cli.settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("berth: {}", app::error::cause_chain(&error));
            return ExitCode::from(2);
        }
    };
    if let Some(Command::CheckConfig) = cli.command {
        println!("{config:#?}");
        return ExitCode::SUCCESS;
    }
    let admin_action = match cli.command {
        Some(Command::Admin { action }) => Some(action),
        _ => None,
    };
    if let Err(error) = telemetry::init(&config.log) {
        eprintln!("berth: cannot set up logging: {error}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("berth: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(action) = admin_action {
        return match runtime.block_on(server::admin_cli::run(&config, &action)) {
            Ok(message) => {
                println!("berth: {message}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("berth: {}", app::error::cause_chain(&error));
                ExitCode::FAILURE
            }
        };
    }
    match runtime.block_on(serve(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let chain = app::error::cause_chain(error.as_ref());
            tracing::error!(error = %chain, "berth stopped with an error");
            eprintln!("berth: {chain}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|error| format!("cannot listen on {}: {error}", config.listen))?;
    let app = Application::build(config, listener).await?;
    let address = format!("http://{}", app.local_addr());
    let running = app.run_until_stopped();
    tracing::info!(%address, "listening");
    running.await?;
    Ok(())
}
