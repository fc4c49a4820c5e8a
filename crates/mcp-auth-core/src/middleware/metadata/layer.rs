use std::sync::Arc;

use bytes::Bytes;
use tower_layer::Layer;

use super::{Metadata, MetadataService};
use crate::metadata::{MetadataError, ProtectedResourceMetadata, WELL_KNOWN_PATH};

/// Serves the RFC 9728 metadata document. See the [module docs](crate::middleware::metadata).
#[derive(Clone, Debug)]
#[must_use]
pub struct MetadataLayer {
    pub(super) shared: Arc<Shared>,
}

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) document: Bytes,
    pub(super) resource_path: String,
}

impl MetadataLayer {
    /// Serves `metadata` at the path derived from its `resource` and at the root well-known path.
    ///
    /// # Panics
    /// If `metadata` does not validate (documents from the builder always do); use
    /// [`MetadataLayer::try_new`] for documents read from configuration.
    pub fn new(metadata: ProtectedResourceMetadata) -> Self {
        Self::try_new(metadata).expect("invalid protected-resource metadata")
    }

    /// Like [`MetadataLayer::new`], returning the validation error instead of panicking.
    ///
    /// # Errors
    /// See [`MetadataError`].
    pub fn try_new(metadata: ProtectedResourceMetadata) -> Result<Self, MetadataError> {
        let resource = metadata.validate()?;
        let document = serde_json::to_vec(&metadata).expect("metadata serialises");
        Ok(Self {
            shared: Arc::new(Shared {
                document: document.into(),
                resource_path: resource.metadata_path().to_owned(),
            }),
        })
    }

    /// The two paths the document is served at: the resource's suffixed well-known path first,
    /// then the root well-known path (the same when the resource has no path).
    pub fn paths(&self) -> [&str; 2] {
        [self.shared.resource_path.as_str(), WELL_KNOWN_PATH]
    }

    /// The document as a service of its own, to mount as a route at each of
    /// [`paths`](Self::paths) where a router decides what reaches the middleware.
    pub fn service(&self) -> MetadataService {
        MetadataService {
            shared: self.shared.clone(),
        }
    }
}

impl<S> Layer<S> for MetadataLayer {
    type Service = Metadata<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metadata {
            inner,
            shared: self.shared.clone(),
        }
    }
}
