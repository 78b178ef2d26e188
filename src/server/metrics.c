/* /metrics: Prometheus text exposition of request counters, latency
 * histogram, authentication failures and the store's source/task counts. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rehost-version.h"
#include "rehost/buf.h"
#include "rehost/checked.h"
#include "server/server.h"

#define MAX_SERIES 256

struct series {
	char method[8];
	char route[48];
	unsigned status;
	uint64_t count;
};

static const double buckets[] = { 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
				  30, 60 };

static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER;
static struct series series[MAX_SERIES];
static size_t nseries;
static uint64_t hist[RH_ARRAY_SIZE(buckets) + 1];
static double hist_sum;
static uint64_t hist_count;
static struct { const char *reason; uint64_t count; } auth_fail[16];

void metrics_request(const char *method, const char *route, unsigned status, double seconds)
{
	size_t i;

	pthread_mutex_lock(&mlock);
	for (i = 0; i < nseries; i++)
		if (series[i].status == status && strcmp(series[i].method, method) == 0 &&
		    strcmp(series[i].route, route) == 0)
			break;
	if (i == nseries && nseries < MAX_SERIES) {
		snprintf(series[i].method, sizeof series[i].method, "%s", method);
		snprintf(series[i].route, sizeof series[i].route, "%s", route);
		series[i].status = status;
		nseries++;
	}
	if (i < nseries)
		series[i].count++;
	for (i = 0; i < RH_ARRAY_SIZE(buckets) && seconds > buckets[i]; i++)
		;
	hist[i]++;
	hist_sum += seconds;
	hist_count++;
	pthread_mutex_unlock(&mlock);
}

void metrics_auth_failure(const char *reason)
{
	pthread_mutex_lock(&mlock);
	for (size_t i = 0; i < RH_ARRAY_SIZE(auth_fail); i++) {
		if (auth_fail[i].reason == NULL)
			auth_fail[i].reason = reason; /* static strings only */
		if (strcmp(auth_fail[i].reason, reason) == 0) {
			auth_fail[i].count++;
			break;
		}
	}
	pthread_mutex_unlock(&mlock);
}

char *metrics_render(struct server *srv)
{
	struct rh_buf *b = NULL;
	json_t *stats = NULL, *v;
	const char *key;
	uint64_t cum = 0;
	char *out = NULL;

	if (rh_buf_new(1u << 20, &b) < 0)
		return NULL;
	rh_buf_putf(b, "# HELP rehost_build_info Version and store backend of this server.\n"
		    "# TYPE rehost_build_info gauge\n"
		    "rehost_build_info{version=\"%s\",backend=\"%s\"} 1\n", REHOST_VERSION,
		    rh_store_backend(srv->store));
	rh_buf_putf(b, "# HELP rehost_start_time_seconds Unix time the server started.\n"
		    "# TYPE rehost_start_time_seconds gauge\nrehost_start_time_seconds %" PRId64 "\n",
		    srv->started_at);
	pthread_mutex_lock(&mlock);
	rh_buf_putf(b, "# HELP rehost_http_requests_total HTTP requests by method, route and status.\n"
		    "# TYPE rehost_http_requests_total counter\n");
	for (size_t i = 0; i < nseries; i++)
		rh_buf_putf(b, "rehost_http_requests_total{method=\"%s\",route=\"%s\",status=\"%u\"} %"
			    PRIu64 "\n", series[i].method, series[i].route, series[i].status,
			    series[i].count);
	rh_buf_putf(b, "# HELP rehost_http_request_duration_seconds Time to answer a request.\n"
		    "# TYPE rehost_http_request_duration_seconds histogram\n");
	for (size_t i = 0; i <= RH_ARRAY_SIZE(buckets); i++) {
		cum += hist[i];
		if (i < RH_ARRAY_SIZE(buckets))
			rh_buf_putf(b, "rehost_http_request_duration_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
				    buckets[i], cum);
		else
			rh_buf_putf(b, "rehost_http_request_duration_seconds_bucket{le=\"+Inf\"} %" PRIu64
				    "\n", cum);
	}
	rh_buf_putf(b, "rehost_http_request_duration_seconds_sum %.6f\n"
		    "rehost_http_request_duration_seconds_count %" PRIu64 "\n", hist_sum, hist_count);
	rh_buf_putf(b, "# HELP rehost_auth_failures_total Refused request signatures by reason.\n"
		    "# TYPE rehost_auth_failures_total counter\n");
	for (size_t i = 0; i < RH_ARRAY_SIZE(auth_fail) && auth_fail[i].reason; i++)
		rh_buf_putf(b, "rehost_auth_failures_total{reason=\"%s\"} %" PRIu64 "\n",
			    auth_fail[i].reason, auth_fail[i].count);
	pthread_mutex_unlock(&mlock);
	if (rh_store_stats(srv->store, &stats) == 0) {
		int64_t total = json_integer_value(json_object_get(stats, "sources"));
		int64_t conn = json_integer_value(json_object_get(stats, "connected"));

		rh_buf_putf(b, "# HELP rehost_sources Registered source servers by connection state.\n"
			    "# TYPE rehost_sources gauge\n"
			    "rehost_sources{connection=\"connected\"} %" PRId64 "\n"
			    "rehost_sources{connection=\"disconnected\"} %" PRId64 "\n", conn, total - conn);
		rh_buf_putf(b, "# HELP rehost_tasks Migration tasks by state.\n# TYPE rehost_tasks gauge\n");
		json_object_foreach(json_object_get(stats, "tasks"), key, v)
			rh_buf_putf(b, "rehost_tasks{state=\"%s\"} %" JSON_INTEGER_FORMAT "\n", key,
				    json_integer_value(v));
		json_decref(stats);
	}
	out = strdup(rh_buf_str(b));
	rh_buf_free(b);
	return out;
}
