//! Wires the modules together: parse the command line, read the configuration, bind, serve.

use std::net::SocketAddr;
use std::process::ExitCode;

use runtime_shim::cli::{self, Command, Listen};
use runtime_shim::config::{Config, KeyPolicy, Overrides, ProcessEnv};
use runtime_shim::{catalogue, conformance, dev, native, probe, shutdown, telemetry};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os().skip(1)) {
        Ok(c) => c,
        // Docker reserves exit status 2 for health checks: the probe's usage errors are 1.
        Err(e) if std::env::args_os().nth(1).is_some_and(|a| a == "probe") => {
            println!("runtime-shim probe: {e}");
            return ExitCode::from(1);
        }
        Err(e) => {
            eprintln!("runtime-shim: {e}");
            return ExitCode::from(2);
        }
    };
    let (policy, overrides, dev_folder) = match command {
        Command::Help => {
            print!("{}", cli::HELP);
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("runtime-shim {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Command::Conformance(options) => return conformance(&options),
        Command::Code(command) => return runtime_shim::archive::main(&command),
        Command::Launch(args) => return runtime_shim::launch::main(&args),
        Command::Probe(options) => return probe(&options),
        Command::Runtimes { json } => {
            return match catalogue::load() {
                Ok(c) if json => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&c).expect("serializable")
                    );
                    ExitCode::SUCCESS
                }
                Ok(c) => {
                    print!("{}", catalogue::table(&c));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("runtime-shim: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Command::ConformanceAll {
            require_all,
            protocol,
        } => {
            return if conformance::run_all(require_all, protocol) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
        Command::NativeWorker { lib, check } => {
            return if check {
                native::check(&lib)
            } else {
                native::worker(&lib)
            };
        }
        Command::Serve(listen) => (
            KeyPolicy::Required,
            with_listen(Overrides::default(), &listen),
            None,
        ),
        Command::Dev {
            folder,
            file,
            listen,
            protocol,
            watch,
        } => match dev::overrides(&folder, file, protocol, &ProcessEnv) {
            Ok(mut o) => (
                KeyPolicy::GenerateIfMissing,
                {
                    // The folder as dev resolved it (absolute), whose files the watch follows.
                    o.watch = watch.then(|| o.code_path.clone().unwrap_or_default().into());
                    with_listen(o, &listen)
                },
                Some(folder),
            ),
            Err(e) => {
                eprintln!("runtime-shim dev: {e}");
                return ExitCode::from(2);
            }
        },
    };
    // Serving only (a native worker is an adapter, and keeps what the shim gives it).
    runtime_shim::process::prepare_self();
    runtime_shim::memory::tune();
    let config = match Config::from_env(&ProcessEnv, policy, overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("runtime-shim: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log, config.log_format);
    if config
        .launch
        .args
        .first()
        .is_some_and(|a| a == native::WORKER_COMMAND)
    {
        let lib = config.launch.args[1].to_string_lossy().into_owned();
        if let Err(e) = native::preflight(std::path::Path::new(&config.launch.program), &lib) {
            eprintln!("runtime-shim: configuration error: SHIM_NATIVE_LIB: {e}");
            return ExitCode::from(2);
        }
    }

    // The main thread alone by default (`single`): the shim's work per execution is small next to an
    // adapter's, and one thread wakes no other (docs/hot-path.md has the measurements); SHIM_THREADS=N runs
    // a work-stealing pool of N.
    let mut builder = if config.threads == 0 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(config.threads);
        builder
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("runtime-shim: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(async move {
        if config.contract == runtime_shim::contract::Contract::Lambda {
            // No listener: the bootstrap of a Lambda custom runtime polls the Runtime API.
            let signal = shutdown::on_signal()?;
            return runtime_shim::run_lambda(config, signal).await;
        }
        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        let bound = listener.local_addr()?;
        let signal = shutdown::on_signal()?;
        tracing::info!(
            addr = %bound,
            adapter = %config.launch.name,
            workers = config.workers,
            pid1 = runtime_shim::process::is_init(),
            adapter_uid = config.user.map(|u| u.uid),
            "listening"
        );
        if config.contract == runtime_shim::contract::Contract::V5 {
            // The executor's start script waits for this line on stdout.
            println!("{}", runtime_shim::contract::v5::STARTED_LINE);
        }
        if let Some(folder) = dev_folder {
            let url = format!("http://{bound}/");
            println!(
                "serving {} ({}, {} adapter, {} contract) at {url}\ntry:\n  {}",
                folder.display(),
                config.entrypoint.as_deref().unwrap_or_default(),
                config.launch.name,
                config.contract,
                dev::curl_line(
                    &url,
                    &String::from_utf8_lossy(config.key.expose()),
                    config.contract
                )
            );
            if config.contract == runtime_shim::contract::Contract::V5 {
                println!("log files: {}", config.v5.logs_dir.display());
            }
        }
        runtime_shim::run(config, listener, signal).await
    });
    // Whatever is still running (a connection past the grace) is abandoned with the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("runtime-shim: {e}");
            ExitCode::from(1)
        }
    }
}

fn conformance(options: &conformance::Options) -> ExitCode {
    match conformance::run(options) {
        Ok(outcomes) => {
            if options.json {
                println!("{}", conformance::json_report(&options.adapter, &outcomes));
            } else {
                print!("{}", conformance::table(&options.adapter, &outcomes));
            }
            if outcomes.iter().all(|o| o.failure.is_none()) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("runtime-shim conformance: {e}");
            ExitCode::from(2)
        }
    }
}

/// `probe`: one line on stdout either way (Docker and Kubernetes keep a probe's output), exit 0 or 1.
fn probe(options: &probe::Options) -> ExitCode {
    let addr = match probe::target(options, &ProcessEnv) {
        Ok(a) => a,
        Err(e) => {
            println!("runtime-shim probe: configuration error: {e}");
            return ExitCode::from(1);
        }
    };
    match probe::check(addr, &options.path, options.timeout) {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(line) => {
            println!("{line}");
            ExitCode::from(1)
        }
    }
}

fn with_listen(mut o: Overrides, listen: &Listen) -> Overrides {
    o.host = listen.host.or(o.host);
    o.port = listen.port.or(o.port);
    o
}
