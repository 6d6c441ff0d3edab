//! Close codes: the class of every code (`code`) and the explanation catalog (`catalog`,
//! with its Arabic text in `catalog_ar`).

pub mod catalog;
pub mod catalog_ar;
pub mod code;
