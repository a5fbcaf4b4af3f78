/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test helper: the module's life-cycle rules that no stock tool reaches.
 *   p11-module-check MODULE present   vhsmd is reachable at $VHSM_SOCKET
 *   p11-module-check MODULE absent    it is not: the token is absent, C_OpenSession says so
 * "present" checks: C_Initialize with no arguments, CKF_OS_LOCKING_OK, the application's mutex
 * callbacks (and that the module uses them), partial callbacks refused, repeated
 * initialize/finalize cycles, double initialisation; RO/RW sessions and their states; login
 * rules; 64 sessions; 8 threads with their own sessions; a forked child is not initialised
 * until it calls C_Initialize; every fd the module opened is close-on-exec; the exported
 * symbols. Prints one "ok" line per check; exits 1 at the first failure.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <p11-kit/pkcs11.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static CK_FUNCTION_LIST *f;
static int checks;

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                       \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)
#define EXPECT(call, want)                                                                         \
	do {                                                                                       \
		CK_RV _rv = (call);                                                                \
		CHECK(_rv == (CK_RV)(want), "%s = 0x%lx, expected 0x%lx", #call,                   \
		      (unsigned long)_rv, (unsigned long)(want));                                  \
	} while (0)

static void ok(const char *what)
{
	printf("ok %d - %s\n", ++checks, what);
}

/* Application mutexes that count their use. */
static unsigned n_create, n_lock;
static CK_RV app_create(CK_VOID_PTR_PTR m)
{
	pthread_mutex_t *p = malloc(sizeof(*p));
	if (!p)
		return CKR_HOST_MEMORY;
	pthread_mutex_init(p, NULL);
	__atomic_add_fetch(&n_create, 1, __ATOMIC_SEQ_CST);
	*m = p;
	return CKR_OK;
}
static CK_RV app_destroy(CK_VOID_PTR m)
{
	pthread_mutex_destroy(m);
	free(m);
	return CKR_OK;
}
static CK_RV app_lock(CK_VOID_PTR m)
{
	__atomic_add_fetch(&n_lock, 1, __ATOMIC_SEQ_CST);
	return pthread_mutex_lock(m) ? CKR_GENERAL_ERROR : CKR_OK;
}
static CK_RV app_unlock(CK_VOID_PTR m)
{
	return pthread_mutex_unlock(m) ? CKR_GENERAL_ERROR : CKR_OK;
}

static CK_SESSION_HANDLE open_session(CK_FLAGS flags)
{
	CK_SESSION_HANDLE h;
	EXPECT(f->C_OpenSession(1, flags, NULL, NULL, &h), CKR_OK);
	return h;
}

/* One cycle: a session, random bytes, finalize. */
static void cycle(CK_C_INITIALIZE_ARGS *args)
{
	CK_SESSION_HANDLE h;
	CK_BYTE buf[32] = { 0 }, zero[32] = { 0 };

	EXPECT(f->C_Initialize(args), CKR_OK);
	h = open_session(CKF_SERIAL_SESSION);
	EXPECT(f->C_GenerateRandom(h, buf, sizeof(buf)), CKR_OK);
	CHECK(memcmp(buf, zero, sizeof(buf)) != 0, "random bytes are all zero");
	EXPECT(f->C_Finalize(NULL), CKR_OK);
}

static void check_init(void)
{
	CK_C_INITIALIZE_ARGS os = { .flags = CKF_OS_LOCKING_OK };
	CK_C_INITIALIZE_ARGS app = { app_create, app_destroy, app_lock, app_unlock, 0, NULL };
	CK_C_INITIALIZE_ARGS half = { app_create, NULL, app_lock, app_unlock, 0, NULL };
	CK_C_INITIALIZE_ARGS reserved = { .pReserved = &os };
	CK_INFO info;

	EXPECT(f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
	EXPECT(f->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	cycle(NULL);
	cycle(&os);
	ok("C_Initialize without arguments and with CKF_OS_LOCKING_OK");
	cycle(&app);
	CHECK(n_create > 0 && n_lock > 0, "the application's mutexes were not used");
	ok("C_Initialize with the application's mutex callbacks: the module uses them");
	EXPECT(f->C_Initialize(&half), CKR_ARGUMENTS_BAD);
	EXPECT(f->C_Initialize(&reserved), CKR_ARGUMENTS_BAD);
	ok("partial mutex callbacks and pReserved are refused");
	for (int i = 0; i < 20; i++)
		cycle(i % 2 ? &os : NULL);
	EXPECT(f->C_Initialize(NULL), CKR_OK);
	EXPECT(f->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	EXPECT(f->C_GetInfo(&info), CKR_OK);
	CHECK(info.cryptokiVersion.major == 2 && info.cryptokiVersion.minor == 40, "version");
	ok("20 initialize/finalize cycles; a second C_Initialize is refused");
}

static void check_sessions(void)
{
	CK_SESSION_HANDLE ro = open_session(CKF_SERIAL_SESSION), rw, many[64], h;
	CK_SESSION_INFO si;
	CK_TOKEN_INFO ti;
	CK_UTF8CHAR empty[1] = { 0 };
	CK_BYTE none[1];

	EXPECT(f->C_OpenSession(1, 0, NULL, NULL, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
	EXPECT(f->C_OpenSession(2, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_SLOT_ID_INVALID);
	rw = open_session(CKF_SERIAL_SESSION | CKF_RW_SESSION);
	EXPECT(f->C_GetSessionInfo(ro, &si), CKR_OK);
	CHECK(si.state == CKS_RO_PUBLIC_SESSION, "RO state %lu", si.state);
	EXPECT(f->C_GetTokenInfo(1, &ti), CKR_OK);
	CHECK((ti.flags & (CKF_TOKEN_INITIALIZED | CKF_RNG | CKF_LOGIN_REQUIRED |
			   CKF_PROTECTED_AUTHENTICATION_PATH | CKF_USER_PIN_INITIALIZED)) ==
		      (CKF_TOKEN_INITIALIZED | CKF_RNG | CKF_LOGIN_REQUIRED |
		       CKF_PROTECTED_AUTHENTICATION_PATH | CKF_USER_PIN_INITIALIZED),
	      "token flags 0x%lx", ti.flags);
	ok("RO and RW sessions; bad slot and non-serial sessions refused; token flags");
	EXPECT(f->C_Login(ro, CKU_SO, NULL, 0), CKR_SESSION_READ_ONLY_EXISTS);
	EXPECT(f->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);
	EXPECT(f->C_Login(ro, CKU_USER, NULL, 0), CKR_OK); /* protected authentication path */
	EXPECT(f->C_Login(rw, CKU_USER, NULL, 0), CKR_USER_ALREADY_LOGGED_IN);
	EXPECT(f->C_GetSessionInfo(rw, &si), CKR_OK);
	CHECK(si.state == CKS_RW_USER_FUNCTIONS, "RW user state %lu", si.state);
	EXPECT(f->C_Logout(rw), CKR_OK);
	EXPECT(f->C_Login(rw, CKU_USER, empty, 0), CKR_OK); /* empty PIN: ssh-agent */
	EXPECT(f->C_Logout(rw), CKR_OK);
	EXPECT(f->C_Login(rw, 7, NULL, 0), CKR_USER_TYPE_INVALID);
	ok("login: no PIN or an empty one; already logged in; SO refused with an RO session");
	for (int i = 0; i < 64; i++)
		many[i] = open_session(CKF_SERIAL_SESSION);
	for (int i = 0; i < 64; i++)
		EXPECT(f->C_CloseSession(many[i]), CKR_OK);
	EXPECT(f->C_CloseSession(many[0]), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f->C_GenerateRandom(many[5], none, 0), CKR_SESSION_HANDLE_INVALID);
	EXPECT(f->C_CloseSession(ro), CKR_OK);
	EXPECT(f->C_CloseAllSessions(1), CKR_OK);
	EXPECT(f->C_GetSessionInfo(rw, &si), CKR_SESSION_HANDLE_INVALID);
	ok("64 sessions; closed sessions are invalid");
}

static void *thread_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20; i++) {
		CK_SESSION_HANDLE h;
		CK_BYTE b[16];
		if (f->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK ||
		    f->C_GenerateRandom(h, b, sizeof(b)) != CKR_OK || f->C_CloseSession(h) != CKR_OK)
			return (void *)1;
	}
	return NULL;
}

static void check_threads(void)
{
	pthread_t t[8];
	void *r;

	for (int i = 0; i < 8; i++)
		CHECK(pthread_create(&t[i], NULL, thread_main, NULL) == 0, "pthread_create");
	for (int i = 0; i < 8; i++) {
		CHECK(pthread_join(t[i], &r) == 0 && r == NULL, "thread %d failed", i);
	}
	ok("8 threads open, use and close 20 sessions each");
}

/* The fds open before the module was loaded (the test harness's own). */
static bool inherited[1024];

/* Every fd the module opened must be close-on-exec (its sockets). */
static void check_cloexec(void)
{
	CK_SESSION_HANDLE h = open_session(CKF_SERIAL_SESSION);
	CK_OBJECT_HANDLE o;
	CK_ULONG n;
	int seen = 0;

	EXPECT(f->C_FindObjectsInit(h, NULL, 0), CKR_OK); /* connects the session */
	EXPECT(f->C_FindObjects(h, &o, 1, &n), CKR_OK);
	EXPECT(f->C_FindObjectsFinal(h), CKR_OK);
	for (int fd = 3; fd < 1024; fd++) {
		int fl = fcntl(fd, F_GETFD);
		if (fl < 0 || inherited[fd])
			continue;
		seen++;
		CHECK(fl & FD_CLOEXEC, "fd %d is inherited by exec'd children", fd);
	}
	CHECK(seen > 0, "no fd open while a session is connected");
	EXPECT(f->C_CloseSession(h), CKR_OK);
	ok("every fd the module holds is close-on-exec");
}

static void check_fork(void)
{
	CK_SESSION_HANDLE h = open_session(CKF_SERIAL_SESSION);
	int status;
	pid_t pid = fork();

	CHECK(pid >= 0, "fork");
	if (pid == 0) {
		CK_INFO info;
		CK_BYTE b[8];
		if (f->C_GetInfo(&info) != CKR_CRYPTOKI_NOT_INITIALIZED ||
		    f->C_GenerateRandom(h, b, sizeof(b)) != CKR_CRYPTOKI_NOT_INITIALIZED)
			_exit(2);
		if (f->C_Initialize(NULL) != CKR_OK || f->C_GetInfo(&info) != CKR_OK)
			_exit(3);
		if (f->C_GenerateRandom(h, b, sizeof(b)) != CKR_SESSION_HANDLE_INVALID)
			_exit(4);
		if (f->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h) != CKR_OK ||
		    f->C_GenerateRandom(h, b, sizeof(b)) != CKR_OK || f->C_Finalize(NULL) != CKR_OK)
			_exit(5);
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status), "child");
	CHECK(WEXITSTATUS(status) == 0, "child failed at step %d", WEXITSTATUS(status));
	CK_BYTE b[8];
	EXPECT(f->C_GenerateRandom(h, b, sizeof(b)), CKR_OK); /* the parent's session lives */
	EXPECT(f->C_CloseSession(h), CKR_OK);
	ok("a forked child is not initialised until its own C_Initialize; the parent goes on");
}

static void check_absent(void)
{
	CK_SLOT_ID slots[2];
	CK_ULONG n = 2;
	CK_TOKEN_INFO ti;
	CK_SLOT_INFO si;
	CK_SESSION_HANDLE h;

	EXPECT(f->C_Initialize(NULL), CKR_OK);
	EXPECT(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
	CHECK(n == 0, "%lu slots with a token", n);
	n = 2;
	EXPECT(f->C_GetSlotList(CK_FALSE, slots, &n), CKR_OK);
	CHECK(n == 1, "%lu slots", n);
	EXPECT(f->C_GetSlotInfo(1, &si), CKR_OK);
	CHECK(!(si.flags & CKF_TOKEN_PRESENT), "token present");
	EXPECT(f->C_GetTokenInfo(1, &ti), CKR_TOKEN_NOT_PRESENT);
	EXPECT(f->C_OpenSession(1, CKF_SERIAL_SESSION, NULL, NULL, &h), CKR_TOKEN_NOT_PRESENT);
	EXPECT(f->C_Finalize(NULL), CKR_OK);
	ok("vhsmd unreachable: the token is absent, never a failing session on a present token");
}

int main(int argc, char **argv)
{
	CK_RV (*get)(CK_FUNCTION_LIST_PTR_PTR);
	void *dl;

	for (int fd = 0; fd < 1024; fd++)
		inherited[fd] = fcntl(fd, F_GETFD) >= 0;
	if (argc != 3) {
		fprintf(stderr, "usage: p11-module-check MODULE present|absent\n");
		return 2;
	}
	dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	CHECK(dl, "dlopen: %s", dlerror());
	get = (CK_RV(*)(CK_FUNCTION_LIST_PTR_PTR))dlsym(dl, "C_GetFunctionList");
	CHECK(get && get(&f) == CKR_OK, "C_GetFunctionList");
	CHECK(!dlsym(dl, "C_Initialize") && !dlsym(dl, "p11_lock"), "more than C_GetFunctionList exported");
	if (strcmp(argv[2], "absent") == 0) {
		check_absent();
		return 0;
	}
	check_init();
	check_sessions();
	check_threads();
	check_cloexec();
	check_fork();
	EXPECT(f->C_Finalize(NULL), CKR_OK);
	return 0;
}
