//! `reprise run` and `reprise serve`: the long-running stages in one process, and their shutdown.
//!
//! Ingest is a fixture file (`--fixture`), live Jetstream (`ingest.hosts`, or `--jetstream URL`), or
//! subscribeRepos firehoses (`ingest.firehose`, or `--firehose URL`), with Jetstream beside them only
//! when `--jetstream` is given too.
//! Stages meet through the log: ingest appends and moves the head; the projector waits on the head,
//! applies, and checkpoints; the media worker (`media.rs`) takes jobs from `views.db` and appends their
//! state changes; the API reads `views.db` and serves audio from the object store. Every stage gets a
//! clone of one [`Shutdown`]; on SIGINT or SIGTERM it is stopped, every stage finishes its current
//! batch, the API finishes in-flight requests, and the process exits 0.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use reprise_events::{EventLog, Shutdown};
use reprise_ingest::{Connection, Filters, FirehoseOptions, IngestMetrics, LiveOptions};
use reprise_projector::{Projector, VIEWS_FILE};
use reprise_query_api::AppState;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;

/// Live ingest's settings from the configuration; `jetstream` (from `--jetstream`) replaces the host list.
pub(crate) fn live_options(config: &Config, jetstream: Vec<String>) -> anyhow::Result<LiveOptions> {
    let c = &config.ingest;
    let hosts = if jetstream.is_empty() { c.hosts.clone() } else { jetstream };
    for h in &hosts {
        reprise_ingest::Wire::of(h).map_err(|e| anyhow::anyhow!("--jetstream {e}"))?;
    }
    Ok(LiveOptions {
        hosts,
        filters: filters(config),
        compress: c.compress,
        rewind: Duration::from_secs(c.rewind_seconds),
        replay_window: Duration::from_secs(c.replay_window_seconds),
        blind_window: Duration::from_secs(c.blind_window_seconds),
        connection: connection(config),
        // "oldest": a first start asks for everything in the replay window (the host clamps it to what
        // it keeps) instead of the live tail; a minute inside it, so that the start is still inside the
        // window when the connection is made (older would be recorded as a gap).
        start_cursor_us: match c.jetstream_start {
            crate::config::StreamStart::Oldest => {
                let window = c.replay_window_seconds.saturating_sub(60).max(1) as i64;
                Some(reprise_ingest::now_us() - window * 1_000_000)
            }
            crate::config::StreamStart::Live => None,
        },
    })
}

/// What Jetstream hosts and firehoses follow.
fn filters(config: &Config) -> Filters {
    let c = &config.ingest;
    Filters { wanted_collections: c.wanted_collections.clone(), wanted_dids: c.wanted_dids.clone() }
}

/// The connection settings Jetstream hosts and firehoses share.
fn connection(config: &Config) -> Connection {
    let c = &config.ingest;
    Connection {
        backoff_initial: Duration::from_millis(c.backoff_initial_ms),
        backoff_max: Duration::from_millis(c.backoff_max_ms),
        batch_size: c.batch_size,
        max_frame_bytes: c.max_frame_bytes,
        ..Connection::default()
    }
}

/// Firehose ingest's settings from the configuration; `firehose` (from `--firehose`) replaces the URL list.
fn firehose_options(config: &Config, firehose: Vec<String>) -> anyhow::Result<FirehoseOptions> {
    let c = &config.ingest;
    let urls = if firehose.is_empty() { c.firehose.clone() } else { firehose };
    for url in &urls {
        reprise_ingest::check_firehose_url(url).map_err(|e| anyhow::anyhow!("--firehose {e}"))?;
    }
    Ok(FirehoseOptions {
        urls,
        filters: filters(config),
        start: c.firehose_start,
        connection: connection(config),
    })
}

/// The network sources `reprise run` follows: the firehoses when any is configured (and Jetstream too only
/// when `--jetstream` names hosts), otherwise Jetstream.
fn network_sources(
    config: &Config,
    jetstream: Vec<String>,
    firehose: Vec<String>,
) -> anyhow::Result<(Option<LiveOptions>, Option<FirehoseOptions>)> {
    let firehose = firehose_options(config, firehose)?;
    if firehose.urls.is_empty() {
        return Ok((Some(live_options(config, jetstream)?), None));
    }
    let live = match jetstream.is_empty() {
        true => None,
        false => Some(live_options(config, jetstream)?),
    };
    Ok((live, Some(firehose)))
}

pub fn run(
    config: Config,
    fixture: Option<PathBuf>,
    jetstream: Vec<String>,
    firehose: Vec<String>,
) -> anyhow::Result<()> {
    let (live, firehose) = match fixture {
        Some(_) => (None, None),
        None => network_sources(&config, jetstream, firehose)?,
    };
    let runtime = runtime()?;
    let result = runtime.block_on(async move {
        let shutdown = stop_on_signal()?;
        let log = EventLog::open(&config.data_dir)?;
        let projector = Projector::open(&config.data_dir, config.projector.batch_size, super::catalog(&config)?)?;
        // Live ingest's counters; the API's /metrics renders them with `render_prometheus`.
        let metrics = Arc::new(IngestMetrics::default());
        let source: reprise_query_api::MetricsSource = {
            let metrics = metrics.clone();
            Arc::new(move || metrics.render_prometheus())
        };
        let api = api_state(&config, Some(source))?;
        let listener = bind(&config).await?;
        let (checkpoint_tx, checkpoint_rx) = watch::channel(0);
        let media = match config.media.enabled {
            true => Some(super::media::start(&config, checkpoint_rx, shutdown.clone()).await?),
            false => None,
        };

        let mut heads = Vec::new();
        let mut ingests: Vec<tokio::task::JoinHandle<anyhow::Result<EventLog>>> = Vec::new();
        if let Some(path) = fixture {
            heads.push(log.subscribe());
            let shutdown = shutdown.clone();
            let opts = super::fixture_options(&config);
            ingests.push(tokio::task::spawn_blocking(move || -> anyhow::Result<EventLog> {
                let mut log = log;
                let r = reprise_ingest::ingest_fixture(&mut log, &path, &opts, &shutdown)?;
                tracing::info!(source = %r.source, lines = r.lines, appended = r.appended, duplicates = r.duplicates, rejected = r.rejected, interrupted = r.interrupted, "fixture ingested; still serving");
                Ok(log)
            }));
        } else {
            // Jetstream and the firehoses each append through their own log writer (one SQLite
            // connection each; appends take the write lock up front), so neither waits on the other's batch.
            let mut log = Some(log);
            let mut next_log = || match log.take() {
                Some(l) => Ok::<_, anyhow::Error>(l),
                None => Ok(EventLog::open(&config.data_dir)?),
            };
            if let Some(opts) = firehose {
                let log = next_log()?;
                heads.push(log.subscribe());
                tracing::info!(urls = ?opts.urls, collections = ?opts.filters.wanted_collections, "following firehose");
                let (metrics, shutdown) = (metrics.clone(), shutdown.clone());
                ingests.push(tokio::spawn(async move {
                    Ok(reprise_ingest::run_firehose(log, opts, metrics, shutdown).await?)
                }));
            }
            if let Some(opts) = live {
                let log = next_log()?;
                heads.push(log.subscribe());
                tracing::info!(hosts = ?opts.hosts, collections = ?opts.filters.wanted_collections, "following jetstream");
                let (metrics, shutdown) = (metrics.clone(), shutdown.clone());
                ingests.push(tokio::spawn(async move { Ok(reprise_ingest::run_live(log, opts, metrics, shutdown).await?) }));
            }
        }
        heads.extend(media.as_ref().map(|m| m.head.clone()));
        let projecting = tokio::spawn(reprise_projector::follow(
            projector,
            heads,
            Some(EXTERNAL_APPEND_POLL),
            shutdown.clone(),
            move |report| {
                // The media worker picks up new work once the projector has recorded it.
                checkpoint_tx.send_replace(report.checkpoint);
            },
        ));
        let serving = tokio::spawn(serve_http(listener, api, audio_router(&config)?, shutdown.clone()));
        super::snapshot::spawn_schedule(&config, shutdown.clone())?;
        let repairing = super::gap_repair::spawn(&config, shutdown.clone())?;

        shutdown.stopped().await;
        tracing::info!("shutting down: finishing the current batches");
        // The log must outlive ingest's last batch; keep it until the projector has seen that batch.
        let mut _logs = Vec::new();
        for ingest in ingests {
            _logs.push(ingest.await.context("ingest task")??);
        }
        if let Some(media) = media {
            media.stop().await?;
        }
        if let Some(repairing) = repairing {
            repairing.await.context("gap repair task")?;
        }
        projecting.await.context("projector task")??;
        serving.await.context("api task")??;
        tracing::info!("stopped");
        Ok(())
    });
    // A transcode abandoned at shutdown runs on a blocking thread; its job resumes at the next start.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

pub fn serve(config: Config) -> anyhow::Result<()> {
    let views = config.data_dir.join(VIEWS_FILE);
    if !views.exists() {
        bail!("no read models at {}: run `reprise project` or `reprise run` first", views.display());
    }
    runtime()?.block_on(async move {
        let shutdown = stop_on_signal()?;
        let api = api_state(&config, None)?;
        let listener = bind(&config).await?;
        serve_http(listener, api, audio_router(&config)?, shutdown).await?;
        Ok(())
    })
}

/// `/audio/{cid}` and `/audio/{cid}/original` from the configured store; on S3 with `storage.s3.presign`,
/// answered by a redirect to a presigned URL instead of streaming through.
fn audio_router(config: &Config) -> anyhow::Result<axum::Router> {
    let presign = config.storage.backend == reprise_store::StorageBackend::S3 && config.storage.s3.presign;
    Ok(reprise_media::serve::audio_router(crate::config::open_store(config)?, presign))
}

/// The API and the audio routes on one listener, until `shutdown`. The audio routes sit outside the
/// API's middleware: a long download must not meet the request timeout, and audio carries its own
/// caching headers.
async fn serve_http(
    listener: TcpListener,
    api: AppState,
    audio: axum::Router,
    shutdown: Shutdown,
) -> std::io::Result<()> {
    let app = reprise_query_api::router(api).merge(audio);
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown.stopped())
        .await
}

fn api_state(config: &Config, metrics: Option<reprise_query_api::MetricsSource>) -> anyhow::Result<AppState> {
    let options = reprise_query_api::ApiOptions {
        rate_limit_per_minute: config.api.rate_limit_per_minute,
        rate_limit_burst: config.api.rate_limit_burst,
        request_timeout: std::time::Duration::from_millis(config.api.request_timeout_ms),
        cache_max_age_seconds: config.api.cache_max_age_seconds,
    };
    let views = config.data_dir.join(VIEWS_FILE);
    let log = config.data_dir.join(reprise_events::LOG_FILE);
    Ok(AppState::with_options(views, log, options, metrics)?)
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

async fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let listener = TcpListener::bind(config.api.listen)
        .await
        .with_context(|| format!("cannot listen on {} (config key `api.listen`)", config.api.listen))?;
    // Tests and scripts read this line to learn the port when listening on :0.
    tracing::info!(addr = %listener.local_addr()?, "listening");
    Ok(listener)
}

/// How often the projector looks at the log without being woken: another process (`reprise media
/// retry`) may have appended.
const EXTERNAL_APPEND_POLL: Duration = Duration::from_secs(1);

/// The process's one [`Shutdown`], stopped by the first SIGINT or SIGTERM. The handlers are in place
/// when this returns, before the node says it is listening: a signal sent from then on stops it cleanly
/// rather than killing it.
fn stop_on_signal() -> anyhow::Result<Shutdown> {
    use tokio::signal::unix::{SignalKind, signal};
    let (mut int, mut term) = (signal(SignalKind::interrupt())?, signal(SignalKind::terminate())?);
    let shutdown = Shutdown::new();
    let stopper = shutdown.clone();
    tokio::spawn(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
        stopper.stop();
    });
    Ok(shutdown)
}
