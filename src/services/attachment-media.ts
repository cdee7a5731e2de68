import { Code, ConnectError } from "@connectrpc/connect";
import {
  MotionMediaFamily,
  MotionMediaRole,
  type MediaMetadata,
  type MotionMedia,
} from "../../gen/memos/api/v1/attachment_service_pb.js";

/**
 * Validation of client-supplied `motion_media` and `media_metadata` (spec §4.3 steps 5-6), and
 * the Android motion photo detection of step 9. Every failure is `InvalidArgument`.
 */

const invalid = (message: string) => new ConnectError(message, Code.InvalidArgument);

/** Spec §4.3 step 5. */
export function checkClientMotionMedia(motion: MotionMedia): void {
  if (motion.family !== MotionMediaFamily.APPLE_LIVE_PHOTO) {
    throw invalid("only Apple Live Photo motion metadata can be provided by clients");
  }
  if (motion.role !== MotionMediaRole.STILL && motion.role !== MotionMediaRole.VIDEO) {
    throw invalid("motion media role must be STILL or VIDEO");
  }
  if (motion.groupId.trim() === "") throw invalid("motion media group_id is required");
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?$/;
const UTC_OFFSET = /^(Z|[+-](\d{2}):(\d{2}))$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkText(name: string, value: string): void {
  if (value === "") return;
  if (Buffer.byteLength(value, "utf8") > 256) throw invalid(`${name} must be at most 256 bytes`);
  if (value.trim() === "") throw invalid(`${name} must not be blank`);
  if (CONTROL.test(value)) throw invalid(`${name} must not contain control characters`);
}

function positive(name: string, value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isFinite(value) || value <= 0) throw invalid(`${name} must be finite and greater than 0`);
}

/** Spec §4.3 step 6, for an attachment of normalised type `type`. */
export function checkClientMediaMetadata(meta: MediaMetadata, type: string): void {
  const isImage = type.startsWith("image/");
  const isVideo = type.startsWith("video/");
  if (!isImage && !isVideo) throw invalid("media metadata is only supported for image and video attachments");
  const hasWidth = meta.width !== undefined;
  const hasHeight = meta.height !== undefined;
  if (hasWidth !== hasHeight) throw invalid("media metadata width and height must be provided together");
  if (hasWidth && (meta.width! <= 0 || meta.height! <= 0)) throw invalid("media metadata width and height must be greater than 0");
  const details = meta.details;
  if (details.case === undefined) {
    if (!hasWidth) throw invalid("media metadata must contain at least one value");
    return;
  }
  if (details.case === "photo") {
    if (!isImage) throw invalid("photo metadata requires an image attachment");
    const p = details.value;
    const any =
      p.captureTime !== undefined ||
      p.location !== undefined ||
      p.sourceExifOrientation !== undefined ||
      p.cameraMake !== "" ||
      p.cameraModel !== "" ||
      p.lensModel !== "" ||
      p.fNumber !== undefined ||
      p.exposureTimeSeconds !== undefined ||
      p.iso !== undefined ||
      p.focalLengthMm !== undefined;
    if (!any) throw invalid("photo metadata must contain at least one value");
    if (p.sourceExifOrientation !== undefined && (p.sourceExifOrientation < 1 || p.sourceExifOrientation > 8)) {
      throw invalid("source_exif_orientation must be between 1 and 8");
    }
    checkText("camera_make", p.cameraMake);
    checkText("camera_model", p.cameraModel);
    checkText("lens_model", p.lensModel);
    positive("f_number", p.fNumber);
    positive("exposure_time_seconds", p.exposureTimeSeconds);
    positive("focal_length_mm", p.focalLengthMm);
    if (p.iso !== undefined && p.iso <= 0) throw invalid("iso must be greater than 0");
    if (p.captureTime !== undefined) {
      const m = LOCAL_DATE_TIME.exec(p.captureTime.localDateTime);
      if (m === null || !isRealDateTime(m)) throw invalid("capture_time.local_date_time must be YYYY-MM-DDTHH:MM:SS[.fraction]");
      if (p.captureTime.utcOffset !== undefined) {
        const o = UTC_OFFSET.exec(p.captureTime.utcOffset);
        if (o === null) throw invalid("capture_time.utc_offset must be Z or ±HH:MM");
        if (o[1] !== "Z") {
          const h = Number(o[2]);
          const min = Number(o[3]);
          if (min > 59 || h * 60 + min > 14 * 60) throw invalid("capture_time.utc_offset is out of range");
        }
      }
    }
    if (p.location !== undefined) {
      const { latitude, longitude, altitudeMeters } = p.location;
      if (latitude === undefined || longitude === undefined) throw invalid("location requires latitude and longitude");
      if (!Number.isFinite(latitude) || latitude < -90 || latitude > 90) throw invalid("latitude must be between -90 and 90");
      if (!Number.isFinite(longitude) || longitude < -180 || longitude > 180) throw invalid("longitude must be between -180 and 180");
      if (altitudeMeters !== undefined && !Number.isFinite(altitudeMeters)) throw invalid("altitude must be finite");
    }
    return;
  }
  if (!isVideo) throw invalid("video metadata requires a video attachment");
  const d = details.value.durationSeconds;
  if (d === undefined || !Number.isFinite(d) || d < 0) throw invalid("video duration_seconds must be set, finite and >= 0");
}

function isRealDateTime(m: RegExpExecArray): boolean {
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m[i]));
  if (mo! < 1 || mo! > 12 || h! > 23 || mi! > 59 || s! > 59) return false;
  const days = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  return d! >= 1 && d! <= days;
}

const MOTION_XMP = /(?:G?Camera:MotionPhoto|MicroVideo)\s*(?:=\s*["']?|>\s*)1/;
const XMP_OFFSET = /MicroVideoOffset\s*(?:=\s*["']?|>\s*)(\d+)/;
const PRESENTATION = /MotionPhotoPresentationTimestampUs\s*(?:=\s*["']?|>\s*)(-?\d+)/;

/**
 * Android motion photo detection (spec §4.3 step 9): a JPEG whose first 256 KiB carry the XMP
 * motion-photo marker and that embeds an MP4 (`ftyp` box located via `MicroVideoOffset` from the
 * end, or the last `ftyp`). Answers the presentation timestamp, or `undefined` when not one.
 */
export function detectAndroidMotionPhoto(bytes: Uint8Array): { presentationTimestampUs: bigint } | undefined {
  if (bytes.length < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) return undefined;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const head = buf.subarray(0, 256 * 1024).toString("latin1");
  if (!MOTION_XMP.test(head)) return undefined;
  const offset = XMP_OFFSET.exec(head);
  let found = false;
  if (offset !== null) {
    const start = buf.length - Number(offset[1]);
    found = start >= 0 && start + 8 <= buf.length && buf.toString("latin1", start + 4, start + 8) === "ftyp";
  }
  if (!found) {
    const last = buf.lastIndexOf("ftyp", undefined, "latin1");
    found = last >= 4;
  }
  if (!found) return undefined;
  const ts = PRESENTATION.exec(head);
  return { presentationTimestampUs: ts === null ? 0n : BigInt(ts[1]!) };
}
