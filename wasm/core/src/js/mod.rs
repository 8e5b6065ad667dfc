//! JavaScript: function scopes of generated (minified) code, and frame names through them.
//!
//! [`scopes::extract`] tokenizes the generated file once and records every function,
//! method, arrow and class with its generated range and the tokens that name it;
//! [`names::ScopeNames`] maps those name tokens through a source map to the original
//! names and answers "which function is this generated position in".

pub mod links;
pub mod names;
pub mod scopes;
pub mod trace;
