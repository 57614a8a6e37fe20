//! A PDS, relay and PLC directory in one HTTP server on 127.0.0.1:0: `getRepo`, `getLatestCommit` and
//! `listReposByCollection` over the repos it is given, DID documents at `/<did>`, and per-repo faults.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::sync::watch;

use crate::repos::{Account, BuiltRepo};

/// What the server does wrong for one repo's `getRepo`.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer with this status the next `times` requests, then serve normally.
    Status { status: u16, times: usize },
    /// Accept the next `times` requests and never answer them.
    Hang { times: usize },
    /// Serve only the first half of the CAR.
    Truncate,
    /// Hold every request until [`PdsServer::release`] is called.
    Hold,
}

#[derive(Debug, Default)]
struct Repos {
    served: BTreeMap<String, BuiltRepo>,
    documents: HashMap<String, serde_json::Value>,
    faults: HashMap<String, Fault>,
    requests: HashMap<String, usize>,
}

#[derive(Debug)]
struct Shared {
    repos: Mutex<Repos>,
    /// `getRepo` requests received so far (including failed and held ones).
    get_repo_requests: watch::Sender<usize>,
    released: watch::Sender<bool>,
    page_size: usize,
}

/// The running server; dropping it stops it.
#[derive(Debug)]
pub struct PdsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::AbortHandle,
}

impl Drop for PdsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PdsServer {
    /// Starts the server; `listReposByCollection` answers pages of `page_size` repos.
    pub async fn start(page_size: usize) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the pds");
        let addr = listener.local_addr().expect("addr");
        let shared = Arc::new(Shared {
            repos: Mutex::new(Repos::default()),
            get_repo_requests: watch::Sender::new(0),
            released: watch::Sender::new(false),
            page_size: page_size.max(1),
        });
        let app = Router::new()
            .route("/xrpc/com.atproto.sync.getRepo", get(get_repo))
            .route("/xrpc/com.atproto.sync.getLatestCommit", get(latest_commit))
            .route("/xrpc/com.atproto.sync.listReposByCollection", get(list_repos))
            .route("/{did}", get(did_document))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        PdsServer { addr, shared, task: task.abort_handle() }
    }

    /// The base URL: PDS endpoint, relay and PLC directory at once.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `repo` for `account`, with a DID document naming this server as the PDS.
    pub fn serve(&self, account: &Account, repo: BuiltRepo) {
        let mut repos = self.lock();
        repos.documents.insert(account.did.clone(), account.did_document(&self.url()));
        repos.served.insert(repo.did.clone(), repo);
    }

    pub fn set_fault(&self, did: &str, fault: Fault) {
        self.lock().faults.insert(did.to_owned(), fault);
    }

    /// Lets held requests through, now and from now on.
    pub fn release(&self) {
        self.shared.released.send_replace(true);
    }

    /// `getRepo` requests received for `did`.
    pub fn requests(&self, did: &str) -> usize {
        self.lock().requests.get(did).copied().unwrap_or(0)
    }

    /// Waits until at least `n` `getRepo` requests have arrived.
    pub async fn wait_get_repo_requests(&self, n: usize) {
        let mut rx = self.shared.get_repo_requests.subscribe();
        rx.wait_for(|c| *c >= n).await.expect("server alive");
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Repos> {
        self.shared.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

type Params = Query<HashMap<String, String>>;

fn error(status: StatusCode, name: &str) -> Response {
    (status, axum::Json(json!({"error": name, "message": name}))).into_response()
}

async fn get_repo(State(shared): State<Arc<Shared>>, Query(q): Params) -> Response {
    let did = q.get("did").cloned().unwrap_or_default();
    shared.get_repo_requests.send_modify(|c| *c += 1);
    let (repo, fault) = {
        let mut repos = shared.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *repos.requests.entry(did.clone()).or_default() += 1;
        let fault = match repos.faults.get_mut(&did) {
            Some(Fault::Status { status, times }) if *times > 0 => {
                *times -= 1;
                Some(Fault::Status { status: *status, times: 1 })
            }
            Some(Fault::Hang { times }) if *times > 0 => {
                *times -= 1;
                Some(Fault::Hang { times: 1 })
            }
            Some(f @ (Fault::Truncate | Fault::Hold)) => Some(f.clone()),
            _ => None,
        };
        (repos.served.get(&did).cloned(), fault)
    };
    let Some(repo) = repo else { return error(StatusCode::BAD_REQUEST, "RepoNotFound") };
    let mut car = repo.car;
    match fault {
        Some(Fault::Status { status, .. }) => {
            return error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "Injected",
            );
        }
        Some(Fault::Hang { .. }) => std::future::pending::<()>().await,
        Some(Fault::Truncate) => car.truncate(car.len() / 2),
        Some(Fault::Hold) => {
            let _ = shared.released.subscribe().wait_for(|r| *r).await;
        }
        None => {}
    }
    ([(header::CONTENT_TYPE, "application/vnd.ipld.car")], car).into_response()
}

async fn latest_commit(State(shared): State<Arc<Shared>>, Query(q): Params) -> Response {
    let repos = shared.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match q.get("did").and_then(|d| repos.served.get(d)) {
        Some(r) => axum::Json(json!({"cid": r.commit_cid, "rev": r.rev})).into_response(),
        None => error(StatusCode::BAD_REQUEST, "RepoNotFound"),
    }
}

async fn list_repos(State(shared): State<Arc<Shared>>, Query(q): Params) -> Response {
    let Some(collection) = q.get("collection") else {
        return error(StatusCode::BAD_REQUEST, "InvalidRequest");
    };
    let after = q.get("cursor").cloned().unwrap_or_default();
    let repos = shared.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let page: Vec<&String> = repos
        .served
        .iter()
        .filter(|(did, r)| **did > after && r.records.iter().any(|rec| &rec.collection == collection))
        .map(|(did, _)| did)
        .take(shared.page_size)
        .collect();
    let cursor = (page.len() == shared.page_size).then(|| page.last().map(|d| d.to_string())).flatten();
    let repos: Vec<_> = page.iter().map(|did| json!({"did": did})).collect();
    axum::Json(json!({"repos": repos, "cursor": cursor})).into_response()
}

async fn did_document(State(shared): State<Arc<Shared>>, Path(did): Path<String>) -> Response {
    let repos = shared.repos.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match repos.documents.get(&did) {
        Some(doc) => axum::Json(doc.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "NotFound"),
    }
}
