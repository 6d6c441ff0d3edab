//! Close codes: the class of every code (`code`) and the explanation catalog (`catalog`,
//! with its Arabic text in `catalog_ar`); the catalog of client error texts (`errors`, with
//! its Arabic text in `errors_ar`).

pub mod catalog;
pub mod catalog_ar;
pub mod code;
pub mod errors;
pub mod errors_ar;
