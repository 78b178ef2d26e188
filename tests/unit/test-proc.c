/* Unit tests for the child-process API (rh_proc_*) and rh_run on top of
 * it: exec failures come back with their errno and are told apart from
 * a program's own exit 127, capture, extra descriptors, a function
 * child, the deadline killing a whole process group, fork failure, and
 * no descriptor left open on any path. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rehost/err.h"
#include "rehost/proc.h"

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* Read fd to its end into buf (NUL-terminated). */
static void read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
}

static void test_exec_failure(void **state)
{
	const char *missing[] = { "/nonexistent/rehost-no-such-program", NULL };
	const char *unknown[] = { "rehost-no-such-program-in-path", NULL };
	char noexec[] = "/tmp/rehost-test-proc-XXXXXX";
	const char *denied[] = { noexec, NULL };
	struct rh_proc p = { .argv = missing, .out = { RH_PROC_PIPE, -1 } };
	int before = count_fds(), fd;

	(void)state;
	assert_int_equal(rh_proc_start(&p), RH_ERR_NOTFOUND);
	assert_int_equal(p.start_errno, ENOENT);
	assert_int_equal(p.pid, 0);
	assert_int_equal(p.out.fd, -1);
	assert_non_null(strstr(rh_lasterr(), "cannot run /nonexistent/rehost-no-such-program"));
	assert_non_null(strstr(rh_lasterr(), "No such file"));

	memset(&p, 0, sizeof p);
	p.argv = unknown;
	assert_int_equal(rh_proc_start(&p), RH_ERR_NOTFOUND);
	assert_int_equal(p.start_errno, ENOENT);

	/* A file without execute permission: EACCES, not ENOENT. */
	fd = mkstemp(noexec);
	assert_true(fd >= 0);
	close(fd);
	memset(&p, 0, sizeof p);
	p.argv = denied;
	assert_true(rh_proc_start(&p) < 0);
	assert_int_equal(p.start_errno, EACCES);
	unlink(noexec);

	/* A failing chroot is reported the same way. */
	memset(&p, 0, sizeof p);
	p.argv = (const char *const[]){ "/bin/true", NULL };
	p.chroot_dir = "/nonexistent/rehost-root";
	assert_true(rh_proc_start(&p) < 0);
	assert_int_equal(p.start_errno, ENOENT);
	assert_non_null(strstr(rh_lasterr(), "chroot"));
	assert_int_equal(count_fds(), before);
}

/* The program's own 127 is an exit status, not a start failure. */
static void test_exit_127(void **state)
{
	const char *argv[] = { "sh", "-c", "exit 127", NULL };
	const char *missing[] = { "/nonexistent/rehost-no-such-program", NULL };
	struct rh_proc p = { .argv = argv };
	char tail[256];

	(void)state;
	assert_int_equal(rh_proc_start(&p), 0);
	assert_true(p.pid > 0);
	assert_int_equal(rh_proc_finish(&p), 0);
	assert_int_equal(p.start_errno, 0);
	assert_true(WIFEXITED(p.status));
	assert_int_equal(WEXITSTATUS(p.status), 127);

	/* The same through rh_run. */
	assert_int_equal(rh_run(argv, &(struct rh_run_opts){ .quiet = true }, tail, sizeof tail), 127);
	assert_int_equal(rh_run(missing, &(struct rh_run_opts){ .quiet = true }, tail, sizeof tail),
			 RH_ERR_NOTFOUND);
}

static void test_capture(void **state)
{
	const char *echo[] = { "sh", "-c", "echo out; echo err >&2; echo three >&3", NULL };
	const char *cat[] = { "cat", NULL };
	struct rh_proc p = { .argv = echo, .out = { RH_PROC_PIPE, -1 }, .err = { RH_PROC_STDOUT, -1 } };
	int before = count_fds(), x[2];
	char buf[256];

	(void)state;
	/* An extra descriptor becomes the child's 3. */
	assert_int_equal(pipe2(x, O_CLOEXEC), 0);
	p.fds = &x[1];
	p.nfds = 1;
	assert_int_equal(rh_proc_start(&p), 0);
	close(x[1]);
	read_all(p.out.fd, buf, sizeof buf);
	assert_string_equal(buf, "out\nerr\n");
	read_all(x[0], buf, sizeof buf);
	assert_string_equal(buf, "three\n");
	close(x[0]);
	assert_int_equal(rh_proc_finish(&p), 0);
	assert_int_equal(p.out.fd, -1);
	assert_int_equal(WEXITSTATUS(p.status), 0);

	/* stdin from a pipe, stderr to /dev/null. */
	memset(&p, 0, sizeof p);
	p.argv = cat;
	p.in.how = p.out.how = RH_PROC_PIPE;
	p.err.how = RH_PROC_NULL;
	assert_int_equal(rh_proc_start(&p), 0);
	assert_int_equal(write(p.in.fd, "hello", 5), 5);
	close(p.in.fd);
	p.in.fd = -1;
	read_all(p.out.fd, buf, sizeof buf);
	assert_string_equal(buf, "hello");
	assert_int_equal(rh_proc_finish(&p), 0);
	assert_int_equal(count_fds(), before);
}

/* A script without "#!" runs through /bin/sh, as with execvp. */
static void test_script_without_shebang(void **state)
{
	char path[] = "/tmp/rehost-test-proc-XXXXXX";
	const char *argv[] = { path, "arg", NULL };
	struct rh_proc p = { .argv = argv, .out = { RH_PROC_PIPE, -1 } };
	int fd = mkstemp(path);
	char buf[64];

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "echo \"$1\"\n", 10), 10);
	close(fd);
	chmod(path, 0700);
	assert_int_equal(rh_proc_start(&p), 0);
	read_all(p.out.fd, buf, sizeof buf);
	assert_int_equal(rh_proc_finish(&p), 0);
	assert_string_equal(buf, "arg\n");
	unlink(path);
}

static int child_fn(void *arg)
{
	static const char msg[] = "from fn\n";

	(void)!write(1, msg, sizeof msg - 1);
	return *(int *)arg;
}

static void test_function_child(void **state)
{
	int seven = 7, before = count_fds();
	struct rh_proc p = { .fn = child_fn, .fn_arg = &seven, .out = { RH_PROC_PIPE, -1 } };
	char buf[64];

	(void)state;
	assert_int_equal(rh_proc_start(&p), 0);
	/* End-of-file proves the child kept no other write end. */
	read_all(p.out.fd, buf, sizeof buf);
	assert_string_equal(buf, "from fn\n");
	assert_int_equal(rh_proc_finish(&p), 0);
	assert_int_equal(WEXITSTATUS(p.status), 7);
	assert_int_equal(count_fds(), before);
}

/* Gone, or a zombie waiting for init: either way no longer running. */
static bool stopped(pid_t pid)
{
	char path[64], buf[256], *close_paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	close_paren = strrchr(buf, ')');
	return close_paren != NULL && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

static bool stopped_soon(pid_t pid)
{
	for (int i = 0; i < 200; i++) {
		if (stopped(pid))
			return true;
		usleep(10000);
	}
	return false;
}

static pid_t read_pid(const char *path)
{
	FILE *f;
	int pid = 0;

	for (int i = 0; i < 200 && pid == 0; i++) {
		if ((f = fopen(path, "r")) != NULL) {
			if (fscanf(f, "%d", &pid) != 1)
				pid = 0;
			fclose(f);
		}
		if (pid == 0)
			usleep(10000);
	}
	return pid;
}

/* rh_run's deadline kills the program and what it left in its group. */
static void test_deadline_kills_group(void **state)
{
	char dir[] = "/tmp/rehost-test-proc-XXXXXX", pidfile[64], script[256];
	const char *argv[] = { "sh", "-c", script, NULL };
	struct timespec t0, t1;
	int status = 0, before = count_fds();
	struct rh_run_opts o = { .timeout_ms = 300, .quiet = true, .status = &status };
	pid_t grandchild;
	double s;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
	/* The background sleep outlives the shell unless its group is killed. */
	snprintf(script, sizeof script, "sleep 30 & echo $! > %s; exec sleep 30", pidfile);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(rh_run(argv, &o, NULL, 0), RH_ERR_TIMEOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(s < 10.0);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	grandchild = read_pid(pidfile);
	assert_true(grandchild > 0);
	assert_true(stopped_soon(grandchild));
	unlink(pidfile);
	rmdir(dir);
	assert_int_equal(count_fds(), before);
}

/* rh_proc_kill reaches the whole group of a RH_PROC_PGROUP child. */
static void test_kill_group(void **state)
{
	char dir[] = "/tmp/rehost-test-proc-XXXXXX", pidfile[64], script[256];
	const char *argv[] = { "sh", "-c", script, NULL };
	struct rh_proc p = { .argv = argv, .flags = RH_PROC_PGROUP, .pdeathsig = SIGKILL };
	pid_t grandchild;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
	snprintf(script, sizeof script, "sleep 30 & echo $! > %s; wait", pidfile);
	assert_int_equal(rh_proc_start(&p), 0);
	assert_int_equal(getpgid(p.pid), p.pid);
	grandchild = read_pid(pidfile);
	assert_true(grandchild > 0);
	assert_int_equal(rh_proc_wait(&p, RH_PROC_NOHANG), 0);
	rh_proc_kill(&p, SIGKILL);
	assert_int_equal(rh_proc_finish(&p), 0);
	assert_true(WIFSIGNALED(p.status));
	assert_true(stopped_soon(grandchild));
	/* Reaped: no more waiting, no more killing. */
	assert_int_equal(p.pid, 0);
	assert_int_equal(rh_proc_wait(&p, 0), 1);
	unlink(pidfile);
	rmdir(dir);
}

/* fork fails when the user may have no more processes: checked in a
 * child process of the test, which gives up root for it (root is not
 * bound by RLIMIT_NPROC). */
static void test_fork_failure(void **state)
{
	const char *argv[] = { "/bin/true", NULL };
	pid_t pid;
	int st;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct rlimit none = { 0, 0 };
		struct rh_proc p = { .argv = argv, .in = { RH_PROC_NULL, -1 },
				     .out = { RH_PROC_PIPE, -1 }, .err = { RH_PROC_PIPE, -1 } };
		int before, rc;

		if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(10);
		if (setrlimit(RLIMIT_NPROC, &none) < 0)
			_exit(11);
		before = count_fds();
		rc = rh_proc_start(&p);
		if (rc >= 0)
			_exit(12);
		if (strstr(rh_lasterr(), "fork") == NULL)
			_exit(13);
		if (p.out.fd != -1 || p.err.fd != -1 || p.pid != 0)
			_exit(14);
		_exit(count_fds() == before ? 0 : 15);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_bad_options(void **state)
{
	const char *argv[] = { "/bin/true", NULL };
	struct rh_proc p = { .argv = argv, .fn = child_fn };
	int before = count_fds();

	(void)state;
	assert_int_equal(rh_proc_start(&p), RH_ERR_INVAL);
	memset(&p, 0, sizeof p);
	assert_int_equal(rh_proc_start(&p), RH_ERR_INVAL);
	p.argv = argv;
	p.out.how = RH_PROC_STDOUT;
	assert_int_equal(rh_proc_start(&p), RH_ERR_INVAL);
	p.out.how = RH_PROC_PIPE;
	p.err.how = RH_PROC_FD;
	p.err.fd = -1;
	assert_int_equal(rh_proc_start(&p), RH_ERR_INVAL);
	assert_int_equal(p.out.fd, -1);
	assert_int_equal(count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_failure),
		cmocka_unit_test(test_exit_127),
		cmocka_unit_test(test_capture),
		cmocka_unit_test(test_script_without_shebang),
		cmocka_unit_test(test_function_child),
		cmocka_unit_test(test_deadline_kills_group),
		cmocka_unit_test(test_kill_group),
		cmocka_unit_test(test_fork_failure),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
