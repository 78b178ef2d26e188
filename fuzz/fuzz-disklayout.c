/* Fuzz the on-disk structure readers of src/lib/fs: partition tables
 * (libfdisk), filesystem signatures and superblocks (libblkid, libext2fs,
 * xfs, btrfs, vfat, swap), LVM labels and metadata areas, md superblocks.
 * The input is the device: it is written to a memory file, so the readers
 * see exactly what a corrupt or hostile disk would give them. */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "rehost/disk.h"
#include "rehost/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = { "ext4", "xfs", "btrfs", "vfat", "swap" };
	struct rh_ptable *pt = NULL;
	struct rh_fsinfo fs;
	struct rh_lvm_pvlabel pv;
	struct rh_md_member md;
	int fd, rc;

	fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	rc = rh_ptable_read(fd, "fuzz", &pt);
	if (rc == 0) {
		assert(pt->nparts <= RH_PTABLE_MAX_PARTS);
		for (size_t i = 0; i < pt->nparts; i++) {
			uint64_t len = pt->parts[i].size;

			if (pt->parts[i].start >= size)
				continue;
			if (len > size - pt->parts[i].start)
				len = size - pt->parts[i].start;
			(void)rh_fs_probe(fd, pt->parts[i].start, len, &fs);
		}
		rh_ptable_free(pt);
	}
	rc = rh_fs_probe(fd, 0, size, &fs);
	assert(rc == 0 || rc == RH_ERR_IO || rc == RH_ERR_NOMEM);
	if (rc == 0 && fs.used_known)
		assert(fs.size_known);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		memset(&fs, 0, sizeof fs);
		rc = rh_fs_usage(fd, 0, size, types[i], &fs);
		if (rc == 0)
			assert(fs.used <= fs.size || strcmp(types[i], "xfs") == 0);
	}
	rc = rh_lvm_read_label(fd, 0, size, &pv);
	if (rc == 0) {
		if (pv.meta != NULL) {
			struct rh_lvm_vg *vg = NULL;

			assert(pv.meta_len <= RH_LVM_MAX_META);
			if (rh_lvm_parse_vg(pv.meta, pv.meta_len, &vg) == 0)
				rh_lvm_vg_free(vg);
		}
		rh_lvm_pvlabel_release(&pv);
	}
	rc = rh_md_read_member(fd, 0, size, &md);
	if (rc == 0)
		assert(md.data_offset + md.data_size <= size);
	close(fd);
	return 0;
}
