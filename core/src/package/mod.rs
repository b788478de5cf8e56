//! Package rules of the TPNS upload API (file name, rows, zip layout), checked before sending.
//!
//! (Being written: see issue 6.)
