/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * CRC32C (Castagnoli) for the vfmig userspace tools: the checksum of every
 * header, record header and payload of a migration stream
 * (include/vfmig/stream.h).
 */
#ifndef VFMIG_CRC32C_H
#define VFMIG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/**
 * crc32c_update() - continue a raw CRC32C over more bytes
 * @crc: the running value; ~0 to start, as the kernel's crc32c() seed
 * @buf: the bytes
 * @len: how many
 *
 * Reflected polynomial 0x82F63B78, no final xor: the same as the kernel's
 * crc32c(crc, buf, len).
 *
 * Return: the running value after @buf.
 */
uint32_t crc32c_update(uint32_t crc, const void *buf, size_t len);

/**
 * vfmig_crc32c() - the checksum as stream.h defines it
 * @buf: the bytes
 * @len: how many
 *
 * Return: crc32c(~0, @buf, @len) ^ ~0, the value stored in a stream.
 */
uint32_t vfmig_crc32c(const void *buf, size_t len);

#endif /* VFMIG_CRC32C_H */
