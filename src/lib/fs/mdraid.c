/*
 * md RAID member superblocks (Linux md driver formats 0.90 and 1.x),
 * read to report arrays on disks that are not assembled here.
 *
 *  0.90: 4 KiB at the last 64 KiB-aligned 64 KiB of the member, host
 *        endian (we accept little endian, as written on x86);
 *  1.0:  at least 8 KiB from the end, 4 KiB aligned;
 *  1.1:  at byte 0;   1.2: at byte 4096.  Little endian.
 */
#define RH_LOG_COMPONENT "disk"

#include <stdio.h>
#include <string.h>

#include "fs/fs-internal.h"
#include "rehost/checked.h"
#include "rehost/disk.h"
#include "rehost/endian.h"
#include "rehost/err.h"

#define MD_MAGIC 0xa92b4efcu
#define MD_RESERVED (64u * 1024)

static void format_uuid(const uint8_t u[16], char out[40])
{
	snprintf(out, 40, "%02x%02x%02x%02x:%02x%02x%02x%02x:%02x%02x%02x%02x:%02x%02x%02x%02x",
		 u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11],
		 u[12], u[13], u[14], u[15]);
}

static int read_v1(int fd, uint64_t offset, uint64_t size, uint64_t sb_off,
		   const char *version, struct rh_md_member *out)
{
	uint8_t sb[1024];
	uint32_t max_dev, dev_number;
	uint64_t data_off, data_size;
	int rc;

	rc = fs_pread_in(fd, offset, size, sb, 256, sb_off);
	if (rc < 0)
		return rc;
	if (rh_le32dec(sb) != MD_MAGIC || rh_le32dec(sb + 4) != 1)
		return RH_ERR_NOTFOUND;
	if (rh_le64dec(sb + 144) != sb_off / 512)
		return rh_seterr(RH_ERR_CORRUPT, "md %s superblock: super_offset mismatch", version);
	snprintf(out->version, sizeof out->version, "%s", version);
	format_uuid(sb + 16, out->uuid);
	memcpy(out->name, sb + 32, 32);
	out->name[32] = '\0';
	for (size_t i = 0; out->name[i]; i++)
		if ((unsigned char)out->name[i] < 0x20 || (unsigned char)out->name[i] > 0x7e)
			out->name[i] = '?';
	out->level = (int32_t)rh_le32dec(sb + 72);
	out->raid_disks = rh_le32dec(sb + 92);
	data_off = rh_le64dec(sb + 128);
	data_size = rh_le64dec(sb + 136);
	if (RH_MUL_OVERFLOW(data_off, (uint64_t)512, &out->data_offset) ||
	    RH_MUL_OVERFLOW(data_size, (uint64_t)512, &out->data_size) ||
	    !rh_range_ok(out->data_offset, out->data_size, size))
		return rh_seterr(RH_ERR_CORRUPT, "md %s superblock: data area outside the member",
				 version);
	if (out->raid_disks == 0 || out->raid_disks > 1920)
		return rh_seterr(RH_ERR_CORRUPT, "md %s superblock: %u raid disks", version,
				 out->raid_disks);
	out->role = -1;
	max_dev = rh_le32dec(sb + 220);
	dev_number = rh_le32dec(sb + 160);
	if (max_dev <= 384 && dev_number < max_dev) {
		/* Roles follow the 256-byte header; 0xffff spare, 0xfffe faulty. */
		rc = fs_pread_in(fd, offset, size, sb, 256 + (size_t)max_dev * 2, sb_off);
		if (rc < 0)
			return rc;
		uint16_t role = rh_le16dec(sb + 256 + dev_number * 2);

		if (role < 0xfffe)
			out->role = role;
	}
	return 0;
}

static int read_v090(int fd, uint64_t offset, uint64_t size, struct rh_md_member *out)
{
	uint8_t sb[128];
	uint8_t uuid[16];
	uint64_t sb_off;
	int rc;

	if (size < 2 * MD_RESERVED)
		return RH_ERR_NOTFOUND;
	sb_off = (size & ~(uint64_t)(MD_RESERVED - 1)) - MD_RESERVED;
	rc = fs_pread_in(fd, offset, size, sb, sizeof sb, sb_off);
	if (rc < 0)
		return rc;
	if (rh_le32dec(sb) != MD_MAGIC || rh_le32dec(sb + 4) != 0 || rh_le32dec(sb + 8) != 90)
		return RH_ERR_NOTFOUND;
	snprintf(out->version, sizeof out->version, "0.90");
	memcpy(uuid, sb + 5 * 4, 4);
	memcpy(uuid + 4, sb + 13 * 4, 12);
	format_uuid(uuid, out->uuid);
	out->level = (int32_t)rh_le32dec(sb + 7 * 4);
	out->raid_disks = rh_le32dec(sb + 10 * 4);
	if (out->raid_disks == 0 || out->raid_disks > 27)
		return rh_seterr(RH_ERR_CORRUPT, "md 0.90 superblock: %u raid disks",
				 out->raid_disks);
	out->role = -1;
	out->data_offset = 0;
	out->data_size = sb_off;
	return 0;
}

int rh_md_read_member(int fd, uint64_t offset, uint64_t size, struct rh_md_member *out)
{
	int rc;

	memset(out, 0, sizeof *out);
	out->role = -1;
	if (size >= 8192) {
		rc = read_v1(fd, offset, size, 4096, "1.2", out);
		if (rc != RH_ERR_NOTFOUND)
			return rc;
		rc = read_v1(fd, offset, size, 0, "1.1", out);
		if (rc != RH_ERR_NOTFOUND)
			return rc;
		rc = read_v1(fd, offset, size, ((size - 8192) & ~(uint64_t)4095), "1.0", out);
		if (rc != RH_ERR_NOTFOUND)
			return rc;
	}
	memset(out, 0, sizeof *out);
	out->role = -1;
	return read_v090(fd, offset, size, out);
}
