// The system libstdc++'s configuration (gcc 12, built on glibc 2.36), less what glibc 2.28 lacks:
// the headers would otherwise call these inline (condition_variable::wait_until on the steady clock
// calls pthread_cond_clockwait, GLIBC_2.30). The libstdc++ falls back to what it does on older glibc.
#include_next <bits/c++config.h>
#undef _GLIBCXX_USE_PTHREAD_COND_CLOCKWAIT    // pthread_cond_clockwait, GLIBC_2.30
#undef _GLIBCXX_USE_PTHREAD_MUTEX_CLOCKLOCK   // pthread_mutex_clocklock, GLIBC_2.30
#undef _GLIBCXX_USE_PTHREAD_RWLOCK_CLOCKLOCK  // pthread_rwlock_clock*lock, GLIBC_2.30
#undef _GLIBCXX_HAVE_ARC4RANDOM               // arc4random, GLIBC_2.36
