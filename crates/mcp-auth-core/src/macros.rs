//! Macros shared by the layers' services.

/// Gives a middleware service `$name<S>`, whose inner service is the field `inner`, the
/// accessors every service has (`get_ref`, `get_mut`, `into_inner`) and a `Debug` that prints
/// the inner service only (the rest is configuration shared with the layer, or secret).
#[doc(hidden)]
#[macro_export]
macro_rules! middleware_service {
    ($name:ident) => {
        impl<S> $name<S> {
            /// The inner service.
            pub fn get_ref(&self) -> &S {
                &self.inner
            }

            /// The inner service, mutably.
            pub fn get_mut(&mut self) -> &mut S {
                &mut self.inner
            }

            /// Unwraps the inner service.
            pub fn into_inner(self) -> S {
                self.inner
            }
        }

        impl<S: ::std::fmt::Debug> ::std::fmt::Debug for $name<S> {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("inner", &self.inner)
                    .finish_non_exhaustive()
            }
        }
    };
}

/// `Service::poll_ready` of a middleware: the inner service's readiness, since every decision
/// is made in `call`.
#[doc(hidden)]
#[macro_export]
macro_rules! forward_ready {
    () => {
        #[inline]
        fn poll_ready(
            &mut self,
            cx: &mut ::std::task::Context<'_>,
        ) -> ::std::task::Poll<::std::result::Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }
    };
}
