//! Lazy functions whose code may fail to arrive: `fallible_lazy!` splits a function into a wasm
//! chunk of its own, fetched with its first call like `#[leptos::lazy]`, but a chunk that cannot be
//! fetched (the network is down, the server was updated meanwhile) is the call's
//! `Err(AppError)` ("Liaison could not be reached"), told like any failed call, and the next call
//! fetches again; `#[leptos::lazy]` would abort the whole wasm module instead.

/// A lazy function whose chunk may fail to load (the network is down, or the server was updated):
/// the failure is the function's `Err` (`AppError` from `SplitLoaderError`), where `#[leptos::lazy]`
/// would abort the whole wasm module. Split off in the browser build only; the server calls it.
macro_rules! fallible_lazy_impl {
    ($split:ident, $(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $out:ty $body:block) => {
        $(#[$attr])*
        #[cfg_attr(target_arch = "wasm32", ::leptos::wasm_split::wasm_split(
            $split,
            wasm_split_path = ::leptos::wasm_split,
            fallible,
            return_wrapper(let future = _; { future.await } -> $out)
        ))]
        $vis fn $name($($arg: $ty),*) -> ::std::pin::Pin<::std::boxed::Box<dyn ::std::future::Future<Output = $out> + Send + Sync>> {
            ::std::boxed::Box::pin(::leptos::__reexports::send_wrapper::SendWrapper::new(async move $body))
        }
    };
}

pub(crate) use fallible_lazy_impl as fallible_lazy;
