/// The shape of a row-major matrix in caller memory: `rows` rows of `cols` elements, row `i` starting
/// at element `i · rowStride`. Strides are in elements. A `MatrixLayout` plus a `Span` (or an array,
/// or a buffer pointer) is Xent's zero-copy matrix view: nothing is copied and no unsafe pointer is
/// needed.
///
/// ```swift
/// let layout = MatrixLayout(rows: 32, cols: 50257)          // contiguous rows
/// let padded = MatrixLayout(rows: 32, cols: 50257, rowStride: 50304)
/// ```
public struct MatrixLayout: Hashable, Sendable, CustomStringConvertible {
  /// Number of rows (samples). 0 is valid.
  public var rows: Int
  /// Number of columns (classes). Must be at least 1.
  public var cols: Int
  /// Distance in elements between the starts of consecutive rows; at least `cols`.
  public var rowStride: Int

  /// A layout; `rowStride` defaults to `cols` (contiguous rows). Checked when used, not here.
  public init(rows: Int, cols: Int, rowStride: Int? = nil) {
    self.rows = rows
    self.cols = cols
    self.rowStride = rowStride ?? cols
  }

  /// Elements spanned from the first to the last element: `(rows − 1)·rowStride + cols`, 0 when
  /// `rows == 0`; `nil` if that overflows `Int`.
  public var extent: Int? {
    if rows == 0 { return 0 }
    let (a, o1) = (rows - 1).multipliedReportingOverflow(by: rowStride)
    let (b, o2) = a.addingReportingOverflow(cols)
    return o1 || o2 ? nil : b
  }

  public var description: String { "\(rows)×\(cols) (row stride \(rowStride))" }
}
