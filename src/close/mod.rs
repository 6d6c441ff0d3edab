//! Close codes: classification, the explanation catalog, and the per-connection close story.

pub mod catalog;
pub mod catalog_ar;
pub mod code;
pub mod story;
