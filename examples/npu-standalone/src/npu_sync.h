/*
 * npu_sync.h: the library's only platform-specific bits, internal (not
 * installed): a mutex, an atomic reference count and thread-local storage.
 *
 *   Windows (MSVC, mingw-w64): SRWLOCK and Interlocked*, from windows.h.
 *   Elsewhere (Linux, gcc/clang): pthread_mutex_t and C11 <stdatomic.h>.
 *
 * Include it after <openvino/c/openvino.h>: on Windows it drops that
 * header's BOOLEAN macro (openvino.h renames its element type BOOLEAN to
 * OV_BOOLEAN to keep out of the way of windows.h's BOOLEAN type), so the
 * library says OV_BOOLEAN everywhere.
 */
#ifndef NPU_SYNC_H
#define NPU_SYNC_H

#if defined(_WIN32)

#undef BOOLEAN
#include <windows.h>

typedef SRWLOCK npu_mutex_t;
typedef volatile LONG npu_refcount_t;

static __inline void npu_mutex_init(npu_mutex_t *m) { InitializeSRWLock(m); }
static __inline void npu_mutex_lock(npu_mutex_t *m) { AcquireSRWLockExclusive(m); }
static __inline void npu_mutex_unlock(npu_mutex_t *m) { ReleaseSRWLockExclusive(m); }
static __inline void npu_mutex_destroy(npu_mutex_t *m) { (void)m; } /* an SRWLOCK holds no resource */

static __inline void npu_ref_init(npu_refcount_t *r, long v) { *r = v; }
static __inline void npu_ref_inc(npu_refcount_t *r) { InterlockedIncrement(r); }
/* Non-zero when this release dropped the last reference. */
static __inline int npu_ref_dec(npu_refcount_t *r) { return InterlockedDecrement(r) == 0; }

#  if defined(_MSC_VER)
#    define NPU_THREAD_LOCAL __declspec(thread)
#  else
#    define NPU_THREAD_LOCAL __thread /* mingw: libgcc's emulated TLS, linked statically */
#  endif

#else /* POSIX */

#include <pthread.h>
#include <stdatomic.h>

typedef pthread_mutex_t npu_mutex_t;
typedef atomic_long npu_refcount_t;

static inline void npu_mutex_init(npu_mutex_t *m) { pthread_mutex_init(m, NULL); }
static inline void npu_mutex_lock(npu_mutex_t *m) { pthread_mutex_lock(m); }
static inline void npu_mutex_unlock(npu_mutex_t *m) { pthread_mutex_unlock(m); }
static inline void npu_mutex_destroy(npu_mutex_t *m) { pthread_mutex_destroy(m); }

static inline void npu_ref_init(npu_refcount_t *r, long v) { atomic_init(r, v); }
static inline void npu_ref_inc(npu_refcount_t *r) { atomic_fetch_add_explicit(r, 1, memory_order_relaxed); }
static inline int npu_ref_dec(npu_refcount_t *r) { return atomic_fetch_sub_explicit(r, 1, memory_order_acq_rel) == 1; }

#  define NPU_THREAD_LOCAL _Thread_local

#endif

#endif /* NPU_SYNC_H */
