/* Fuzz the wire-frame validator: the first byte picks the direction, the
 * rest is a frame. A frame that validates must satisfy the invariants the
 * receiver relies on. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "rehost/checked.h"
#include "rehost/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rh_frame f;
	uint64_t end;

	if (size < 1)
		return 0;
	if (rh_proto_validate(data + 1, size - 1, data[0] & 1, &f) != 0)
		return 0;
	assert(f.length == size - 1 - RH_PROTO_HDR_SIZE);
	switch (f.type) {
	case RH_MSG_DATA:
		assert(f.u.data.length >= 1 && f.u.data.length <= RH_PROTO_MAX_CHUNK);
		assert(!RH_ADD_OVERFLOW(f.u.data.offset, (uint64_t)f.u.data.length, &end));
		assert(f.u.data.payload + f.u.data.payload_len == data + size);
		break;
	case RH_MSG_HELLO:
		assert(f.u.hello.ndisks >= 1 && f.u.hello.ndisks <= RH_PROTO_MAX_DISKS);
		assert(strlen(f.u.hello.job_id) == RH_PROTO_JOB_ID_LEN);
		break;
	case RH_MSG_HELLO_OK:
		for (uint32_t i = 0; i < f.u.hello_ok.ndisks; i++)
			assert(f.u.hello_ok.disks[i].recv_bytes <= f.u.hello_ok.disks[i].resume_offset &&
			       f.u.hello_ok.disks[i].recv_sum < RH_SUM_MOD);
		break;
	case RH_MSG_PLAN:
		/* The receiver adds these to its counts without checking again. */
		assert(f.u.plan.disk < RH_PROTO_MAX_DISKS);
		assert(f.u.plan.bytes <= f.u.plan.total_bytes);
		assert(f.u.plan.sum < RH_SUM_MOD && f.u.plan.total_sum < RH_SUM_MOD);
		break;
	case RH_MSG_DISK_END:
		assert(f.u.disk_end.disk < RH_PROTO_MAX_DISKS && f.u.disk_end.sum < RH_SUM_MOD);
		break;
	case RH_MSG_ERROR:
		assert(strlen(f.u.error.text) <= RH_PROTO_MSG_LEN);
		break;
	default:
		break;
	}
	return 0;
}
