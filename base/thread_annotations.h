// Clang thread-safety annotations (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html):
// they state which mutex guards which member, so that `clang -Wthread-safety` turns a missed
// lock into a compile error. Under any other compiler they expand to nothing.
// Use them with cairn::Mutex (base/mutex.h): libstdc++'s std::mutex carries no annotations.
#pragma once

#if defined(__clang__)
#define CAIRN_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CAIRN_THREAD_ANNOTATION(x)
#endif

// On a class: it is a lock (a "capability"); `name` appears in diagnostics.
#define CAPABILITY(name) CAIRN_THREAD_ANNOTATION(capability(name))
// On a class: an RAII holder that acquires in its constructor and releases in its destructor.
#define SCOPED_CAPABILITY CAIRN_THREAD_ANNOTATION(scoped_lockable)

// On a data member: read or written only while holding `mu`.
#define GUARDED_BY(mu) CAIRN_THREAD_ANNOTATION(guarded_by(mu))
// On a pointer member: what it points to is read or written only while holding `mu`.
#define PT_GUARDED_BY(mu) CAIRN_THREAD_ANNOTATION(pt_guarded_by(mu))

// On a mutex member: the lock order. This one is taken after (or before) the others.
#define ACQUIRED_AFTER(...) CAIRN_THREAD_ANNOTATION(acquired_after(__VA_ARGS__))
#define ACQUIRED_BEFORE(...) CAIRN_THREAD_ANNOTATION(acquired_before(__VA_ARGS__))

// On a function: the caller must hold (REQUIRES) or must not hold (EXCLUDES) the locks.
#define REQUIRES(...) CAIRN_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) CAIRN_THREAD_ANNOTATION(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) CAIRN_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))

// On a function: it takes (ACQUIRE) or gives up (RELEASE) the locks; with no argument, the
// object it is a member of. TRY_ACQUIRE(ok, ...) takes them only when it returns `ok`.
#define ACQUIRE(...) CAIRN_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) CAIRN_THREAD_ANNOTATION(acquire_shared_capability(__VA_ARGS__))
#define RELEASE(...) CAIRN_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) CAIRN_THREAD_ANNOTATION(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) CAIRN_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))

// On a function: tells the analysis the lock is held here, checked at run time instead.
#define ASSERT_CAPABILITY(x) CAIRN_THREAD_ANNOTATION(assert_capability(x))
// On a function: returns a reference to the given lock (for accessors).
#define RETURN_CAPABILITY(x) CAIRN_THREAD_ANNOTATION(lock_returned(x))

// On a function: the analysis skips its body. Each use says why it is safe.
#define NO_THREAD_SAFETY_ANALYSIS CAIRN_THREAD_ANNOTATION(no_thread_safety_analysis)
