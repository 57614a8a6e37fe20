//! The S3-compatible backend (aws-sdk-s3 over rustls/ring): endpoint, region, bucket, static credentials,
//! path-style addressing, and presigned GET URLs.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream as SdkByteStream;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use bytes::Bytes;
use futures_util::StreamExt;

use crate::S3Config;
use crate::{ByteRange, GetObject, ListedObject, ObjectKey, ObjectMeta, ObjectStore, StoreError};

/// Objects in one bucket of an S3-compatible service.
#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Store {
    /// A store for `config.bucket`; no request is made until first use.
    pub fn new(config: &S3Config) -> Result<Self, StoreError> {
        if config.bucket.is_empty() {
            return Err(StoreError::Config("storage.s3.bucket is empty".into()));
        }
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
            .build_https();
        let credentials = Credentials::new(
            config.access_key_id.clone(),
            config.secret_access_key.clone(),
            None,
            None,
            "reprise-config",
        );
        let mut builder = aws_sdk_s3::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .credentials_provider(credentials)
            .force_path_style(config.path_style)
            // S3-compatible services differ in their support for the newer default checksums.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .http_client(http);
        if let Some(endpoint) = config.endpoint.as_deref().filter(|e| !e.is_empty()) {
            builder = builder.endpoint_url(endpoint);
        }
        Ok(Self { client: aws_sdk_s3::Client::from_conf(builder.build()), bucket: config.bucket.clone() })
    }

    async fn put(&self, key: &ObjectKey, body: SdkByteStream, content_type: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_path())
            .content_type(content_type)
            .body(body)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

fn sdk_error<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    StoreError::S3(DisplayErrorContext(err).to_string())
}

fn status_of<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

/// `bytes a-b/total` -> `(a, b, total)`.
fn parse_content_range(value: &str) -> Option<(u64, u64, u64)> {
    let rest = value.strip_prefix("bytes ")?;
    let (span, total) = rest.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?, total.parse().ok()?))
}

#[async_trait]
impl ObjectStore for S3Store {
    async fn put_file(&self, key: &ObjectKey, path: &Path, content_type: &str) -> Result<(), StoreError> {
        let body =
            SdkByteStream::from_path(path).await.map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        self.put(key, body, content_type).await
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, content_type: &str) -> Result<(), StoreError> {
        self.put(key, SdkByteStream::from(bytes), content_type).await
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<GetObject, StoreError> {
        let request = self.client.get_object().bucket(&self.bucket).key(key.as_path());
        let request = match range {
            Some(r) => request.range(r.header_value()),
            None => request,
        };
        let output = match request.send().await {
            Ok(output) => output,
            Err(err) => {
                return Err(match status_of(&err) {
                    Some(404) => StoreError::NotFound,
                    Some(416) => match self.head(key).await? {
                        Some(meta) => StoreError::RangeNotSatisfiable { size: meta.size },
                        None => StoreError::NotFound,
                    },
                    _ => sdk_error(err),
                });
            }
        };
        let content_type = output.content_type().unwrap_or("application/octet-stream").to_owned();
        let length = output.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0);
        let (size, served) = match (range, output.content_range().and_then(parse_content_range)) {
            (Some(_), Some((a, b, total))) => (total, Some((a, b))),
            // A server that ignores Range sends the whole object; resolve the range ourselves below.
            _ => (length, None),
        };
        let reader = output.body.into_async_read();
        let meta = ObjectMeta { size, content_type };
        match (range, served) {
            (Some(r), None) => {
                let (first, last) = r.resolve(size)?;
                let body = skip_take(reader, first, last - first + 1);
                Ok(GetObject { meta, range: Some((first, last)), body })
            }
            _ => {
                let body = tokio_util::io::ReaderStream::new(reader).boxed();
                Ok(GetObject { meta, range: served, body })
            }
        }
    }

    async fn head(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StoreError> {
        match self.client.head_object().bucket(&self.bucket).key(key.as_path()).send().await {
            Ok(output) => Ok(Some(ObjectMeta {
                size: output.content_length().and_then(|l| u64::try_from(l).ok()).unwrap_or(0),
                content_type: output.content_type().unwrap_or("application/octet-stream").to_owned(),
            })),
            Err(err) if status_of(&err) == Some(404) => Ok(None),
            Err(err) => Err(sdk_error(err)),
        }
    }

    async fn presign_get(&self, key: &ObjectKey, expires: Duration) -> Result<Option<String>, StoreError> {
        let config = PresigningConfig::expires_in(expires).map_err(|e| StoreError::Config(e.to_string()))?;
        let presigned = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_path())
            .presigned(config)
            .await
            .map_err(sdk_error)?;
        Ok(Some(presigned.uri().to_owned()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StoreError> {
        ObjectKey::new(prefix, "x", "x")?;
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(format!("{prefix}/"))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(sdk_error)?;
            for object in page.contents() {
                let Some(key) = object.key().and_then(|k| ObjectKey::from_path(k).ok()) else { continue };
                let size = object.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0);
                found.push(ListedObject { key, size });
            }
        }
        found.sort_by_key(|o| o.key.as_path());
        Ok(found)
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        match self.client.delete_object().bucket(&self.bucket).key(key.as_path()).send().await {
            Ok(_) => Ok(()),
            Err(err) if status_of(&err) == Some(404) => Ok(()),
            Err(err) => Err(sdk_error(err)),
        }
    }
}

/// Skip `skip` bytes of `reader`, then yield at most `take`.
fn skip_take(
    reader: impl tokio::io::AsyncBufRead + Send + Unpin + 'static,
    skip: u64,
    take: u64,
) -> crate::ByteStream {
    use tokio::io::AsyncReadExt;
    let stream = async move {
        let mut reader = reader;
        tokio::io::copy(&mut (&mut reader).take(skip), &mut tokio::io::sink()).await?;
        Ok::<_, std::io::Error>(tokio_util::io::ReaderStream::new(reader.take(take)))
    };
    futures_util::stream::once(stream)
        .map(|r| match r {
            Ok(s) => s.left_stream(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).right_stream(),
        })
        .flatten()
        .boxed()
}
