/*
 * p11-sign: the raw C PKCS#11 baseline hsmkit's benchmarks are measured against.
 *
 * It loads a PKCS#11 module with dlopen, initialises it with CKF_OS_LOCKING_OK, finds the slot
 * by token label, logs in with the PIN from the environment variable P11_PIN (never argv, so it
 * is not visible in ps), finds exactly one private key by CKA_LABEL, and signs a fixed input in a
 * tight loop, C_SignInit + C_Sign per signature, recording every latency.
 *
 *   p11-sign --token LABEL --key LABEL --mech ecdsa|rsa-pkcs|eddsa
 *            [--threads T | --processes P] [--seconds S] [--warmup-ms W] [--module PATH]
 *   p11-sign --token LABEL --keygen-rsa BITS [--count N] [--module PATH]
 *
 * --threads T    one process, T threads, each with its own session (default 1).
 * --processes P  P forked processes, one thread each; each process initialises the module itself
 *                (a module must not be used across fork). They start one after another (two
 *                processes opening one SoftHSM file token at the same moment can fail) and are
 *                released together; results come back to the parent over pipes.
 * --keygen-rsa   times C_GenerateKeyPair of a token RSA key (then destroys it), N times.
 *
 * Inputs: ecdsa signs a fixed 32-byte prehash with CKM_ECDSA; rsa-pkcs signs the 51-byte SHA-256
 * DigestInfo of the fixed message "hsmkit benchmark message" with CKM_RSA_PKCS; eddsa signs a
 * fixed 32-byte message with CKM_EDDSA. These are the same bytes hsmkit hands C_Sign when asked
 * to sign the same digest (ecdsa, rsa-pkcs1) or message (eddsa).
 *
 * Output: one JSON line on stdout, e.g.
 *   {"mode":"threads","threads":2,"processes":1,"mech":"ecdsa","ops":N,"seconds":S,
 *    "elapsed":…,"opsPerSec":…,"p50us":…,"p99us":…,"cpuCores":…,"setupUs":…}
 * cpuCores is the CPU time the signing threads used over the measured window divided by its length
 * (2.0 = two cores fully busy; less means the loop waited, e.g. for other load on the machine).
 * setupUs is dlopen + C_Initialize + slot lookup + C_OpenSession + C_Login + key lookup (for
 * --processes, the median over the processes).
 *
 * Build: cc -O2 -o p11-sign p11-sign.c -ldl -lpthread
 *
 * The PKCS#11 headers are not installed as a system package here, so the few types and the
 * function-list layout needed are declared below (PKCS#11 2.40, Unix ABI: CK_ULONG is unsigned
 * long, structures are not packed). The order of the function list is fixed by the standard.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- PKCS#11 declarations (subset) ---------------------------------------------------------- */

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_FLAGS;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_USER_TYPE;
typedef unsigned char CK_BBOOL;
typedef unsigned char CK_BYTE;

typedef struct { CK_BYTE major, minor; } CK_VERSION;

typedef struct {
  CK_ATTRIBUTE_TYPE type;
  void *pValue;
  CK_ULONG ulValueLen;
} CK_ATTRIBUTE;

typedef struct {
  CK_MECHANISM_TYPE mechanism;
  void *pParameter;
  CK_ULONG ulParameterLen;
} CK_MECHANISM;

typedef struct {
  CK_BYTE label[32];
  CK_BYTE manufacturerID[32];
  CK_BYTE model[16];
  CK_BYTE serialNumber[16];
  CK_FLAGS flags;
  CK_ULONG ulMaxSessionCount, ulSessionCount, ulMaxRwSessionCount, ulRwSessionCount;
  CK_ULONG ulMaxPinLen, ulMinPinLen;
  CK_ULONG ulTotalPublicMemory, ulFreePublicMemory, ulTotalPrivateMemory, ulFreePrivateMemory;
  CK_VERSION hardwareVersion, firmwareVersion;
  CK_BYTE utcTime[16];
} CK_TOKEN_INFO;

typedef struct {
  void *CreateMutex, *DestroyMutex, *LockMutex, *UnlockMutex;
  CK_FLAGS flags;
  void *pReserved;
} CK_C_INITIALIZE_ARGS;

typedef void *CK_FN; /* a function this program never calls */

typedef struct CK_FUNCTION_LIST {
  CK_VERSION version;
  CK_RV (*C_Initialize)(void *);
  CK_RV (*C_Finalize)(void *);
  CK_FN C_GetInfo;
  CK_FN C_GetFunctionList;
  CK_RV (*C_GetSlotList)(CK_BBOOL, CK_SLOT_ID *, CK_ULONG *);
  CK_FN C_GetSlotInfo;
  CK_RV (*C_GetTokenInfo)(CK_SLOT_ID, CK_TOKEN_INFO *);
  CK_FN C_GetMechanismList;
  CK_FN C_GetMechanismInfo;
  CK_FN C_InitToken;
  CK_FN C_InitPIN;
  CK_FN C_SetPIN;
  CK_RV (*C_OpenSession)(CK_SLOT_ID, CK_FLAGS, void *, void *, CK_SESSION_HANDLE *);
  CK_RV (*C_CloseSession)(CK_SESSION_HANDLE);
  CK_FN C_CloseAllSessions;
  CK_FN C_GetSessionInfo;
  CK_FN C_GetOperationState;
  CK_FN C_SetOperationState;
  CK_RV (*C_Login)(CK_SESSION_HANDLE, CK_USER_TYPE, CK_BYTE *, CK_ULONG);
  CK_FN C_Logout;
  CK_FN C_CreateObject;
  CK_FN C_CopyObject;
  CK_RV (*C_DestroyObject)(CK_SESSION_HANDLE, CK_OBJECT_HANDLE);
  CK_FN C_GetObjectSize;
  CK_FN C_GetAttributeValue;
  CK_FN C_SetAttributeValue;
  CK_RV (*C_FindObjectsInit)(CK_SESSION_HANDLE, CK_ATTRIBUTE *, CK_ULONG);
  CK_RV (*C_FindObjects)(CK_SESSION_HANDLE, CK_OBJECT_HANDLE *, CK_ULONG, CK_ULONG *);
  CK_RV (*C_FindObjectsFinal)(CK_SESSION_HANDLE);
  CK_FN C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal;
  CK_FN C_DecryptInit, C_Decrypt, C_DecryptUpdate, C_DecryptFinal;
  CK_FN C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, C_DigestFinal;
  CK_RV (*C_SignInit)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_OBJECT_HANDLE);
  CK_RV (*C_Sign)(CK_SESSION_HANDLE, CK_BYTE *, CK_ULONG, CK_BYTE *, CK_ULONG *);
  CK_FN C_SignUpdate, C_SignFinal, C_SignRecoverInit, C_SignRecover;
  CK_FN C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover;
  CK_FN C_DigestEncryptUpdate, C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate;
  CK_FN C_GenerateKey;
  CK_RV (*C_GenerateKeyPair)(CK_SESSION_HANDLE, CK_MECHANISM *, CK_ATTRIBUTE *, CK_ULONG, CK_ATTRIBUTE *,
                             CK_ULONG, CK_OBJECT_HANDLE *, CK_OBJECT_HANDLE *);
  /* C_WrapKey … C_WaitForSlotEvent follow; not used. */
} CK_FUNCTION_LIST;

#define CKR_OK 0x0UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL
#define CKF_OS_LOCKING_OK 0x2UL
#define CKF_RW_SESSION 0x2UL
#define CKF_SERIAL_SESSION 0x4UL
#define CKU_USER 1UL
#define CKO_PUBLIC_KEY 2UL
#define CKO_PRIVATE_KEY 3UL
#define CKK_RSA 0UL
#define CKA_CLASS 0x0UL
#define CKA_TOKEN 0x1UL
#define CKA_PRIVATE 0x2UL
#define CKA_LABEL 0x3UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_SENSITIVE 0x103UL
#define CKA_DECRYPT 0x105UL
#define CKA_SIGN 0x108UL
#define CKA_VERIFY 0x10AUL
#define CKA_MODULUS_BITS 0x121UL
#define CKA_PUBLIC_EXPONENT 0x122UL
#define CKA_EXTRACTABLE 0x162UL
#define CKM_RSA_PKCS_KEY_PAIR_GEN 0x0UL
#define CKM_RSA_PKCS 0x1UL
#define CKM_ECDSA 0x1041UL
#define CKM_EDDSA 0x1057UL

/* ---- Fixed inputs --------------------------------------------------------------------------- */

/* SHA-256("hsmkit benchmark message"); also the ECDSA prehash and the EdDSA message. */
static CK_BYTE DIGEST[32] = {0xb4, 0x0a, 0xee, 0x4e, 0x27, 0x1e, 0xad, 0xca, 0x3a, 0x23, 0x6e,
                             0x4e, 0x9a, 0x54, 0x52, 0x11, 0x69, 0x93, 0xec, 0xc7, 0x6d, 0x65,
                             0xba, 0x2d, 0x30, 0xb0, 0x5c, 0x35, 0xb4, 0x3a, 0xf0, 0x01};
/* DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2 note 1). */
static const CK_BYTE SHA256_DI_PREFIX[19] = {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
                                             0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20};

/* ---- Options and state ---------------------------------------------------------------------- */

static const char *opt_module = "/usr/lib/softhsm/libsofthsm2.so";
static const char *opt_token;
static const char *opt_key;
static const char *opt_mech;
static int opt_threads = 1;
static int opt_processes = 0;
static double opt_seconds = 5;
static double opt_warmup_ms = 200;
static int opt_keygen_bits = 0;
static int opt_count = 1;

static CK_FUNCTION_LIST *p11;
static CK_SLOT_ID slot;
static CK_OBJECT_HANDLE key;
static CK_MECHANISM_TYPE mech;
static CK_BYTE input[64];
static CK_ULONG input_len;
static char pin[256];
static size_t pin_len;

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("p11-sign: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(1);
}

#define CHECK(call, what)                                                                          \
  do {                                                                                             \
    CK_RV rv_ = (call);                                                                            \
    if (rv_ != CKR_OK) die("%s failed: CKR 0x%lx", what, rv_);                                     \
  } while (0)

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline uint64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* ---- Module setup --------------------------------------------------------------------------- */

static void load_and_login(CK_SESSION_HANDLE *login_session) {
  void *lib = dlopen(opt_module, RTLD_NOW | RTLD_LOCAL);
  if (!lib) die("cannot load %s: %s", opt_module, dlerror());
  CK_RV (*get_list)(CK_FUNCTION_LIST **) = (CK_RV(*)(CK_FUNCTION_LIST **))dlsym(lib, "C_GetFunctionList");
  if (!get_list) die("%s has no C_GetFunctionList", opt_module);
  CHECK(get_list(&p11), "C_GetFunctionList");

  /* SoftHSM crashes under concurrency unless told it may use OS locking. */
  CK_C_INITIALIZE_ARGS args;
  memset(&args, 0, sizeof args);
  args.flags = CKF_OS_LOCKING_OK;
  CHECK(p11->C_Initialize(&args), "C_Initialize");

  CK_ULONG n = 0;
  CHECK(p11->C_GetSlotList(1, NULL, &n), "C_GetSlotList");
  CK_SLOT_ID *slots = calloc(n ? n : 1, sizeof *slots);
  CHECK(p11->C_GetSlotList(1, slots, &n), "C_GetSlotList");
  size_t want = strlen(opt_token);
  int found = 0;
  for (CK_ULONG i = 0; i < n; i++) {
    CK_TOKEN_INFO ti;
    if (p11->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
    size_t len = 32;
    while (len > 0 && ti.label[len - 1] == ' ') len--;
    if (len == want && memcmp(ti.label, opt_token, len) == 0) {
      slot = slots[i];
      found++;
    }
  }
  free(slots);
  if (found != 1) die("%d slots hold a token labelled \"%s\"", found, opt_token);

  CHECK(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, login_session),
        "C_OpenSession");
  CK_RV rv = p11->C_Login(*login_session, CKU_USER, (CK_BYTE *)pin, (CK_ULONG)pin_len);
  if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) die("C_Login failed: CKR 0x%lx", rv);
}

static CK_OBJECT_HANDLE find_private_key(CK_SESSION_HANDLE s) {
  CK_ULONG cls = CKO_PRIVATE_KEY;
  CK_ATTRIBUTE t[2] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, (void *)opt_key, strlen(opt_key)}};
  CHECK(p11->C_FindObjectsInit(s, t, 2), "C_FindObjectsInit");
  CK_OBJECT_HANDLE h[2];
  CK_ULONG n = 0;
  CHECK(p11->C_FindObjects(s, h, 2, &n), "C_FindObjects");
  CHECK(p11->C_FindObjectsFinal(s), "C_FindObjectsFinal");
  if (n != 1) die("%s private key labelled \"%s\"", n == 0 ? "no" : "more than one", opt_key);
  return h[0];
}

/* ---- The signing loop ----------------------------------------------------------------------- */

struct worker {
  pthread_t thread;
  CK_SESSION_HANDLE session;
  uint32_t *lat_ns; /* one entry per measured signature */
  size_t n, cap;
  uint64_t elapsed_ns;
  uint64_t cpu_ns; /* CPU time of this thread over the measured window */
};

static pthread_barrier_t start_barrier;

static void sign_once(CK_SESSION_HANDLE s) {
  CK_MECHANISM m = {mech, NULL, 0};
  CK_BYTE sig[1024];
  CK_ULONG sig_len = sizeof sig;
  CHECK(p11->C_SignInit(s, &m, key), "C_SignInit");
  CHECK(p11->C_Sign(s, input, input_len, sig, &sig_len), "C_Sign");
}

/* Warm up until start + warmup, then sign and record until the deadline. */
static void run_loop(struct worker *w) {
  uint64_t start = now_ns();
  uint64_t measure_from = start + (uint64_t)(opt_warmup_ms * 1e6);
  while (now_ns() < measure_from) sign_once(w->session);
  uint64_t deadline = measure_from + (uint64_t)(opt_seconds * 1e9);
  uint64_t t = now_ns(), begin = t, cpu0 = thread_cpu_ns();
  while (t < deadline) {
    sign_once(w->session);
    uint64_t t2 = now_ns();
    if (w->n == w->cap) {
      w->cap = w->cap ? w->cap * 2 : 65536;
      w->lat_ns = realloc(w->lat_ns, w->cap * sizeof *w->lat_ns);
      if (!w->lat_ns) die("out of memory");
    }
    uint64_t d = t2 - t;
    w->lat_ns[w->n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    t = t2;
  }
  w->elapsed_ns = t - begin;
  w->cpu_ns = thread_cpu_ns() - cpu0;
}

static void *thread_main(void *arg) {
  struct worker *w = arg;
  pthread_barrier_wait(&start_barrier);
  run_loop(w);
  return NULL;
}

/* ---- Results -------------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array, in microseconds. */
static double pct_us(const uint32_t *sorted, size_t n, double q) {
  if (n == 0) return 0;
  size_t rank = (size_t)(q * (double)n + 0.999999999);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return sorted[rank - 1] / 1000.0;
}

static void report(const char *mode, int threads, int processes, uint32_t *lat, size_t n, uint64_t elapsed_ns,
                   uint64_t cpu_ns, double setup_us) {
  qsort(lat, n, sizeof *lat, cmp_u32);
  double elapsed = elapsed_ns / 1e9;
  printf("{\"mode\":\"%s\",\"threads\":%d,\"processes\":%d,\"mech\":\"%s\",\"ops\":%zu,\"seconds\":%g,"
         "\"elapsed\":%.4f,\"opsPerSec\":%.1f,\"p50us\":%.1f,\"p99us\":%.1f,\"cpuCores\":%.3f,"
         "\"setupUs\":%.0f}\n",
         mode, threads, processes, opt_mech, n, opt_seconds, elapsed, elapsed > 0 ? n / elapsed : 0,
         pct_us(lat, n, 0.50), pct_us(lat, n, 0.99), elapsed > 0 ? cpu_ns / 1e9 / elapsed : 0, setup_us);
}

/* ---- Modes ---------------------------------------------------------------------------------- */

static void prepare_input(void) {
  if (strcmp(opt_mech, "ecdsa") == 0) {
    mech = CKM_ECDSA;
    memcpy(input, DIGEST, 32);
    input_len = 32;
  } else if (strcmp(opt_mech, "eddsa") == 0) {
    mech = CKM_EDDSA;
    memcpy(input, DIGEST, 32);
    input_len = 32;
  } else if (strcmp(opt_mech, "rsa-pkcs") == 0) {
    mech = CKM_RSA_PKCS;
    memcpy(input, SHA256_DI_PREFIX, sizeof SHA256_DI_PREFIX);
    memcpy(input + sizeof SHA256_DI_PREFIX, DIGEST, 32);
    input_len = sizeof SHA256_DI_PREFIX + 32; /* 51 */
  } else {
    die("--mech must be ecdsa, rsa-pkcs or eddsa");
  }
}

static void run_threads(void) {
  uint64_t t0 = now_ns();
  CK_SESSION_HANDLE login;
  load_and_login(&login);
  key = find_private_key(login);
  double setup_us = (now_ns() - t0) / 1e3;

  struct worker *w = calloc((size_t)opt_threads, sizeof *w);
  pthread_barrier_init(&start_barrier, NULL, (unsigned)opt_threads + 1);
  for (int i = 0; i < opt_threads; i++) {
    CHECK(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &w[i].session),
          "C_OpenSession");
    sign_once(w[i].session); /* the key works with this mechanism, or we stop here */
    if (pthread_create(&w[i].thread, NULL, thread_main, &w[i]) != 0) die("pthread_create failed");
  }
  pthread_barrier_wait(&start_barrier);
  size_t total = 0;
  uint64_t elapsed = 0, cpu = 0;
  for (int i = 0; i < opt_threads; i++) {
    pthread_join(w[i].thread, NULL);
    total += w[i].n;
    cpu += w[i].cpu_ns;
    if (w[i].elapsed_ns > elapsed) elapsed = w[i].elapsed_ns;
  }
  uint32_t *all = malloc((total ? total : 1) * sizeof *all);
  size_t off = 0;
  for (int i = 0; i < opt_threads; i++) {
    memcpy(all + off, w[i].lat_ns, w[i].n * sizeof *all);
    off += w[i].n;
  }
  report("threads", opt_threads, 1, all, total, elapsed, cpu, setup_us);
  p11->C_Finalize(NULL);
}

static int write_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t k = write(fd, p, len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

static int read_all(int fd, void *buf, size_t len) {
  char *p = buf;
  while (len > 0) {
    ssize_t k = read(fd, p, len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return -1;
    p += k;
    len -= (size_t)k;
  }
  return 0;
}

struct child_result {
  uint64_t n;
  uint64_t elapsed_ns;
  uint64_t cpu_ns;
  double setup_us;
};

/* Child: set up, report ready, wait for go, sign, send results. Never returns. */
static void child_main(int to_parent, int from_parent) {
  uint64_t t0 = now_ns();
  struct worker w;
  memset(&w, 0, sizeof w);
  CK_SESSION_HANDLE login;
  load_and_login(&login);
  key = find_private_key(login);
  CHECK(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &w.session),
        "C_OpenSession");
  double setup_us = (now_ns() - t0) / 1e3;
  sign_once(w.session);
  char c = 'R';
  if (write_all(to_parent, &c, 1) != 0) _exit(1);
  if (read_all(from_parent, &c, 1) != 0) _exit(1);
  run_loop(&w);
  struct child_result r = {w.n, w.elapsed_ns, w.cpu_ns, setup_us};
  if (write_all(to_parent, &r, sizeof r) != 0) _exit(1);
  if (w.n && write_all(to_parent, w.lat_ns, w.n * sizeof *w.lat_ns) != 0) _exit(1);
  p11->C_Finalize(NULL);
  _exit(0);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void run_processes(void) {
  int P = opt_processes;
  pid_t *pids = calloc((size_t)P, sizeof *pids);
  int *up = calloc((size_t)P, sizeof *up), *down = calloc((size_t)P, sizeof *down);
  for (int i = 0; i < P; i++) {
    int a[2], b[2];
    if (pipe(a) != 0 || pipe(b) != 0) die("pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
      close(a[0]);
      close(b[1]);
      for (int j = 0; j < i; j++) {
        close(up[j]);
        close(down[j]);
      }
      child_main(a[1], b[0]);
    }
    close(a[1]);
    close(b[0]);
    pids[i] = pid;
    up[i] = a[0];
    down[i] = b[1];
    /* Start them one after another: wait until this one is logged in and has signed once. */
    char c;
    if (read_all(up[i], &c, 1) != 0 || c != 'R') {
      for (int j = 0; j <= i; j++) kill(pids[j], SIGKILL);
      die("process %d failed to start", i);
    }
  }
  for (int i = 0; i < P; i++) {
    char go = 'G';
    if (write_all(down[i], &go, 1) != 0) die("cannot release process %d", i);
  }
  size_t total = 0, cap = 0;
  uint32_t *all = NULL;
  uint64_t elapsed = 0, cpu = 0;
  double *setup = calloc((size_t)P, sizeof *setup);
  for (int i = 0; i < P; i++) {
    struct child_result r;
    if (read_all(up[i], &r, sizeof r) != 0) die("process %d died while signing", i);
    if (total + r.n > cap) {
      cap = total + r.n;
      all = realloc(all, (cap ? cap : 1) * sizeof *all);
      if (!all) die("out of memory");
    }
    if (r.n && read_all(up[i], all + total, r.n * sizeof *all) != 0) die("short result from process %d", i);
    total += r.n;
    if (r.elapsed_ns > elapsed) elapsed = r.elapsed_ns;
    cpu += r.cpu_ns;
    setup[i] = r.setup_us;
    int status;
    waitpid(pids[i], &status, 0);
  }
  qsort(setup, (size_t)P, sizeof *setup, cmp_double);
  report("processes", 1, P, all, total, elapsed, cpu, setup[P / 2]);
}

static void run_keygen(void) {
  CK_SESSION_HANDLE s;
  load_and_login(&s);
  CK_BBOOL yes = 1, no = 0;
  CK_ULONG bits = (CK_ULONG)opt_keygen_bits, pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY,
           kt = CKK_RSA;
  CK_BYTE e[3] = {1, 0, 1};
  const char *label = "p11-sign-keygen-sample";
  CK_ATTRIBUTE pub[] = {
      {CKA_CLASS, &pub_cls, sizeof pub_cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
      {CKA_TOKEN, &yes, 1},                  {CKA_LABEL, (void *)label, strlen(label)},
      {CKA_PRIVATE, &no, 1},                 {CKA_VERIFY, &yes, 1},
      {CKA_MODULUS_BITS, &bits, sizeof bits}, {CKA_PUBLIC_EXPONENT, e, sizeof e},
  };
  CK_ATTRIBUTE priv[] = {
      {CKA_CLASS, &priv_cls, sizeof priv_cls}, {CKA_KEY_TYPE, &kt, sizeof kt},
      {CKA_TOKEN, &yes, 1},                    {CKA_LABEL, (void *)label, strlen(label)},
      {CKA_PRIVATE, &yes, 1},                  {CKA_SENSITIVE, &yes, 1},
      {CKA_EXTRACTABLE, &no, 1},               {CKA_SIGN, &yes, 1},
      {CKA_DECRYPT, &no, 1},
  };
  CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
  printf("{\"mode\":\"keygen\",\"keyType\":\"rsa-%d\",\"samplesSeconds\":[", opt_keygen_bits);
  for (int i = 0; i < opt_count; i++) {
    CK_OBJECT_HANDLE hpub, hpriv;
    uint64_t t = now_ns();
    CHECK(p11->C_GenerateKeyPair(s, &m, pub, sizeof pub / sizeof pub[0], priv, sizeof priv / sizeof priv[0],
                                 &hpub, &hpriv),
          "C_GenerateKeyPair");
    double secs = (now_ns() - t) / 1e9;
    CHECK(p11->C_DestroyObject(s, hpriv), "C_DestroyObject");
    CHECK(p11->C_DestroyObject(s, hpub), "C_DestroyObject");
    printf("%s%.4f", i ? "," : "", secs);
  }
  printf("]}\n");
  p11->C_Finalize(NULL);
}

/* ---- main ----------------------------------------------------------------------------------- */

static void usage(void) {
  fprintf(stderr,
          "usage: P11_PIN=… p11-sign --token LABEL --key LABEL --mech ecdsa|rsa-pkcs|eddsa\n"
          "         [--threads T | --processes P] [--seconds S] [--warmup-ms W] [--module PATH]\n"
          "       P11_PIN=… p11-sign --token LABEL --keygen-rsa BITS [--count N] [--module PATH]\n");
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    if (strcmp(a, "--module") == 0) opt_module = v;
    else if (strcmp(a, "--token") == 0) opt_token = v;
    else if (strcmp(a, "--key") == 0) opt_key = v;
    else if (strcmp(a, "--mech") == 0) opt_mech = v;
    else if (strcmp(a, "--threads") == 0) opt_threads = atoi(v);
    else if (strcmp(a, "--processes") == 0) opt_processes = atoi(v);
    else if (strcmp(a, "--seconds") == 0) opt_seconds = atof(v);
    else if (strcmp(a, "--warmup-ms") == 0) opt_warmup_ms = atof(v);
    else if (strcmp(a, "--keygen-rsa") == 0) opt_keygen_bits = atoi(v);
    else if (strcmp(a, "--count") == 0) opt_count = atoi(v);
    else usage();
    i++;
  }
  if (!opt_token) usage();
  const char *p = getenv("P11_PIN");
  if (!p) die("set the user PIN in the environment variable P11_PIN");
  pin_len = strlen(p);
  if (pin_len >= sizeof pin) die("P11_PIN is too long");
  memcpy(pin, p, pin_len);
  unsetenv("P11_PIN"); /* keep it out of anything this process might start */

  if (opt_keygen_bits > 0) {
    if (opt_count < 1) usage();
    run_keygen();
    return 0;
  }
  if (!opt_key || !opt_mech || opt_threads < 1 || opt_processes < 0 || opt_seconds <= 0) usage();
  prepare_input();
  if (opt_processes > 0) run_processes();
  else run_threads();
  return 0;
}
